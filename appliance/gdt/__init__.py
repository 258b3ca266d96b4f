"""GDT 2.1 (Geraetedatentransfer): records exchanged with the practice management system (PVS).

`record` writes and strictly parses records (bytes only), `consent` maps consent forms to
GDT fields and back, `exchange` handles the shared exchange directory. None of them knows
about HTTP or the database; `appliance.services.gdt` puts them to work.
"""
