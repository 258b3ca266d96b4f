"""`appliance`: the operator's commands (serve, migrate, check-config)."""

from __future__ import annotations

import argparse
import sys

from appliance import __version__
from appliance import settings as settings_module


def _settings() -> settings_module.Settings:
    try:
        return settings_module.load()
    except settings_module.ConfigError as exc:
        print(f"appliance: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _database(settings: settings_module.Settings):
    from appliance.db import open_database

    timeout = settings.database.connect_timeout
    return open_database(settings.database_url, pool_size=2, connect_timeout=timeout)


def cmd_serve(args: argparse.Namespace) -> int:
    from appliance.db import UNAVAILABLE_ERRORS
    from appliance.forms.catalogue import CatalogueError, packaged
    from appliance.migrator import pending
    from appliance.serve import serve

    settings = _settings()
    try:
        packaged()  # every worker would refuse it; say why once, before any starts
    except CatalogueError as exc:
        print(f"appliance: {exc}", file=sys.stderr)
        return 2
    database = _database(settings)
    try:
        waiting = pending(database)
    except UNAVAILABLE_ERRORS:
        # Start anyway: the database may come up later; /api/health/ready tells until then.
        print("appliance: the database is unreachable at start-up", file=sys.stderr)
        waiting = []
    finally:
        database.close()
    if waiting:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in waiting)
        print(f"appliance: the database needs migrations ({names}); run 'appliance migrate'",
              file=sys.stderr)
        return 2
    serve(settings)
    return 0


def _owner_and_app_role(settings: settings_module.Settings) -> tuple[str, str | None]:
    """The owner role's URL (database.owner_url, else database.url) and, when the role in
    database.url is another one, that application role, which gets the grants under RLS."""
    from urllib.parse import urlsplit

    owner_url = settings.database.owner_url or settings.database_url
    app_user = urlsplit(settings.database_url).username
    app_role = app_user if settings.database.owner_url and app_user != urlsplit(owner_url).username \
        else None
    return owner_url, app_role


def cmd_migrate(args: argparse.Namespace) -> int:
    """Runs as the owner role (database.owner_url) when one is configured; the role in
    database.url then gets the application grants under row-level security."""
    from appliance.db import open_database
    from appliance.migrator import MigrationError, upgrade

    settings = _settings()
    owner_url, app_role = _owner_and_app_role(settings)
    database = open_database(owner_url, pool_size=2, connect_timeout=settings.database.connect_timeout)
    try:
        applied = upgrade(database, app_role=app_role, target=args.target)
    except MigrationError as exc:
        print(f"appliance: {exc}", file=sys.stderr)
        return 1
    finally:
        database.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("the database is up to date")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings()
    print(f"configuration is valid (mode {settings.app.mode}, database "
          f"{settings.database_url.split(':', 1)[0]}, storage {settings.storage.backend})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from appliance.demo import create_demo

    settings = _settings()
    if settings.production:
        print("appliance: demo refuses to run in production mode", file=sys.stderr)
        return 2
    demo = create_demo(settings)
    print(DEMO_TEXT.format(**demo, url=settings.app.public_base_url))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit status 1 when any chain is broken or shorter than an anchor, so monitoring can
    alert on it. Each chain is compared with its newest nightly export and with every
    `--anchor` given for it (copied from the journal line of a nightly run)."""
    import uuid

    from appliance.models import database as database_proxy
    from appliance.services.audit import chain_of
    from appliance.services.audit_log import (
        all_chains,
        anchored_chains,
        export_anchor,
        parse_anchor,
        verify_chain,
    )

    try:
        selected = chain_of(uuid.UUID(args.practice)) if args.practice else None
    except ValueError:
        print("appliance: --practice must be a practice id (UUID)", file=sys.stderr)
        return 2
    try:
        given = [parse_anchor(text) for text in args.anchor]
    except ValueError as exc:
        print(f"appliance: --anchor: {exc}", file=sys.stderr)
        return 2
    settings = _settings()
    database = _database(settings)
    database_proxy.initialize(database)
    try:
        if selected:
            chains = [selected]
        else:
            chains = sorted({*all_chains(), *anchored_chains(), *(chain for chain, _ in given)})
        broken = 0
        for chain in chains:
            anchors = [anchor for each, anchor in given if each == chain]
            exported = export_anchor(chain)
            result = verify_chain(chain, [*anchors, *([exported] if exported else [])])
            if result["ok"]:
                anchored = max((a["seq"] for a in result.get("anchors", [])), default=None)
                note = f", matches the anchors up to entry {anchored}" if anchored else ", no anchor"
                print(f"{chain}: ok ({result['entries']} entries{note})")
            else:
                broken += 1
                print(f"{chain}: BROKEN at entry {result['firstBroken']}: {result['problem']}")
    finally:
        database.close()
    return 1 if broken else 0


def cmd_gdt_import(args: argparse.Namespace) -> int:
    """One import run over the GDT exchange directories; exit 1 when one could not be read."""
    import uuid

    try:
        practice_id = uuid.UUID(args.practice) if args.practice else None
    except ValueError:
        print("appliance: --practice must be a practice id (UUID)", file=sys.stderr)
        return 2
    from appliance.clock import SystemClock
    from appliance.mail import open_mailer
    from appliance.models import database as database_proxy
    from appliance.services.container import build_services

    settings = _settings()
    database = _database(settings)
    database_proxy.initialize(database)
    try:
        services = build_services(settings, database, SystemClock(), None, open_mailer(settings))
        results = services.gdt.import_all(practice_id)
    finally:
        database.close()
    if practice_id is not None and not results:
        print("appliance: no such practice with a GDT exchange directory", file=sys.stderr)
        return 2
    for practice, result in results.items():
        if isinstance(result, str):
            print(f"{practice}: not imported: {result}")
        else:
            print(f"{practice}: {result.imported} imported ({result.tolerated} with a tolerated quirk),"
                  f" {result.rejected} rejected, {len(result.skipped)} other files skipped")
            for skipped in result.skipped:
                print(f"  skipped {skipped.name}: {skipped.reason}")
    return 1 if any(isinstance(result, str) for result in results.values()) else 0


def _scheduler(settings: settings_module.Settings):
    import zoneinfo

    from appliance.clock import SystemClock
    from appliance.mail import open_mailer
    from appliance.models import database as database_proxy
    from appliance.scheduler.schedule import Scheduler
    from appliance.services.container import build_services

    database = _database(settings)
    database_proxy.initialize(database)
    services = build_services(settings, database, SystemClock(), None, open_mailer(settings))
    return Scheduler(services, zoneinfo.ZoneInfo(settings.app.timezone))


def cmd_scheduler(args: argparse.Namespace) -> int:
    from appliance import logs

    settings = _settings()
    logs.configure(settings.log.level, library_debug=settings.log.library_debug)
    scheduler = _scheduler(settings)
    if args.once:
        for name, outcome in scheduler.run_all_once().items():
            print(f"{name}: {outcome or 'skipped (another process ran it)'}")
        return 0
    scheduler.serve()
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from appliance.clock import isoformat
    from appliance.models import database as database_proxy
    from appliance.scheduler.runner import recent_runs

    settings = _settings()
    database_proxy.initialize(_database(settings))
    rows = [["started (UTC)", "job", "run", "outcome", "attempts", "counts"]]
    rows += [[isoformat(run.started_at), run.job, run.run_key, run.outcome or "running", str(run.attempts),
              " ".join(f"{key}={value}" for key, value in (run.counts or {}).items())]
             for run in recent_runs(args.limit)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Exit status 1 when no complete backup was written, so the timer's unit fails visibly."""
    from pathlib import Path

    from appliance.backup import BackupError, create_backup, prune, source_url
    from appliance.replica import backup_replica
    from appliance.storage import StoreError, open_store

    if args.keep_days is not None and args.keep_days < 1:
        print("appliance: --keep-days must be at least 1", file=sys.stderr)
        return 2
    settings = _settings()
    try:
        source = source_url(_owner_and_app_role(settings)[0], backup_replica(settings))
        summary = create_backup(source, open_store(settings), Path(args.to))
        removed = prune(Path(args.to), args.keep_days) if args.keep_days is not None else []
    except (BackupError, StoreError, OSError) as exc:
        print(f"appliance: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup {summary.path}: {sum(summary.rows.values())} rows in {len(summary.rows)} tables, "
          f"{summary.objects} objects ({summary.object_bytes} bytes)")
    for path in removed:
        print(f"removed {path} (older than {args.keep_days} days)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Only into an empty database and store: it never merges with or overwrites data."""
    from pathlib import Path

    from appliance.backup import BackupError, restore_backup
    from appliance.migrator import MigrationError
    from appliance.storage import StoreError, open_store

    settings = _settings()
    owner_url, app_role = _owner_and_app_role(settings)
    try:
        summary = restore_backup(Path(args.source), owner_url, open_store(settings), app_role)
    except (BackupError, MigrationError, StoreError, OSError) as exc:
        print(f"appliance: restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"restored {summary.path}: {sum(summary.rows.values())} rows in {len(summary.rows)} tables, "
          f"{summary.objects} objects ({summary.object_bytes} bytes)")
    return 0


DEMO_TEXT = """Demo practice created: {practice}
  staff login     {email}
  password        {password}
  vault password  {vaultPassword}   (unlocks the practice key; lose it and the data is gone)
  consent link    {consentLink}
  consent token   {consentToken}
  consent form    {form}   (the link shows it; GET /api/forms lists the practice's forms)

Try the whole flow with the reference client while `appliance serve` runs:

  from appliance.client import answers
  from appliance.client.api import Identity, PatientClient, StaffClient
  patient = PatientClient("{url}")
  form = patient.open("{consentToken}")["form"]
  patient.submit("{consentLink}", Identity("Erika", "Mustermann", "1985-04-12"),
                 answers.sample_answers(form), answers.png_signature(answers.sample_png()))
  staff = StaffClient("{url}")
  staff.login("{email}", "{password}")
  staff.unlock_vault("{vaultPassword}")
  print(staff.read_consent("{consentId}"))
"""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="appliance", description=__doc__)
    root.add_argument("--version", action="version", version=__version__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the API with gunicorn").set_defaults(run=cmd_serve)
    migrate = commands.add_parser("migrate", help="bring the database schema to the newest version")
    migrate.add_argument("--target", type=int, help="stop at this version (for upgrades in steps)")
    migrate.set_defaults(run=cmd_migrate)
    commands.add_parser("check-config", help="validate the configuration and exit").set_defaults(
        run=cmd_check_config
    )
    commands.add_parser(
        "demo", help="create a demo practice, admin, vault and consent link (development only)"
    ).set_defaults(run=cmd_demo)
    audit = commands.add_parser("audit", help="audit log tools").add_subparsers(dest="audit", required=True)
    verify = audit.add_parser("verify", help="verify the audit hash chains; exit 1 if one is broken")
    verify.add_argument("--practice", help="verify only this practice's chain")
    verify.add_argument("--anchor", action="append", default=[], metavar="CHAIN:SEQ:HASH",
                        help="a chain head kept outside the database (the `anchor` of a nightly"
                        " audit-exports journal line); the chain must still hold that entry")
    verify.set_defaults(run=cmd_audit_verify)
    scheduler = commands.add_parser("scheduler", help="run the scheduled jobs (its own process)")
    scheduler.add_argument("--once", action="store_true", help="run every job for now, then exit")
    scheduler.set_defaults(run=cmd_scheduler)
    job_list = commands.add_parser("jobs", help="list recent job runs")
    job_list.add_argument("--limit", type=int, default=30)
    job_list.set_defaults(run=cmd_jobs)
    gdt = commands.add_parser("gdt", help="GDT exchange with the PVS").add_subparsers(
        dest="gdt", required=True
    )
    gdt_import = gdt.add_parser("import", help="import the requests the PVS left in the exchange directories")
    gdt_import.add_argument("--practice", help="import only for this practice")
    gdt_import.set_defaults(run=cmd_gdt_import)
    backup = commands.add_parser("backup", help="back up the database and every object into a new directory")
    backup.add_argument("--to", required=True, metavar="DIR", help="where backups live (one directory each)")
    backup.add_argument("--keep-days", type=int, metavar="N", help="then remove backups older than N days"
                        " (the newest always stays)")
    backup.set_defaults(run=cmd_backup)
    restore = commands.add_parser("restore", help="restore a backup into an empty database and store")
    restore.add_argument("--from", dest="source", required=True, metavar="DIR", help="one backup directory")
    restore.set_defaults(run=cmd_restore)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)
