"""A form document (the shape of docs/crypto.md and the catalogue), answers a patient gives to
it, and a signature image: what the crypto and consent tests submit and read back."""

from __future__ import annotations

from appliance.client.answers import png_signature, sample_answers, sample_png
from appliance.forms.canonical import form_hash


def with_hash(document: dict) -> dict:
    return {**document, "formHash": form_hash(document)}


FORM = with_hash({
    "formId": "botox",
    "version": 1,
    "locale": "de",
    "type": "BOTOX",
    "title": "Aufklärung und Einwilligung: Behandlung mit Botulinumtoxin",
    "sections": [{"id": "treatment", "title": "Was ist die Behandlung?",
                  "blocks": [{"kind": "paragraph", "text": "Botulinumtoxin entspannt Muskeln."}]}],
    "fieldGroups": [
        {"id": "medicalHistory", "title": "Ihre Gesundheit", "fields": [
            {"id": "allergies", "kind": "multi", "label": "Allergien", "required": True,
             "exclusive": "NONE",
             "options": [{"value": "NONE", "label": "Keine"}, {"value": "PENICILLIN", "label": "Penicillin"},
                         {"value": "LATEX", "label": "Latex"}],
             "other": {"id": "allergiesOther", "label": "Andere Allergien", "maxLength": 500}},
            {"id": "medications", "kind": "list", "label": "Medikamente", "required": False,
             "maxItems": 30, "maxLength": 200},
            {"id": "pregnant", "kind": "boolean", "label": "Schwanger oder stillend", "required": True},
            {"id": "previousTreatment", "kind": "boolean", "label": "Frühere Behandlung", "required": True},
            {"id": "previousTreatmentDate", "kind": "date", "label": "Wann?", "required": True,
             "visibleWhen": {"field": "previousTreatment", "equals": True}},
            {"id": "area", "kind": "single", "label": "Bereich", "required": True,
             "options": [{"value": "GLABELLA", "label": "Zornesfalte"},
                         {"value": "FOREHEAD", "label": "Stirn"}]},
            {"id": "notes", "kind": "text", "label": "Anmerkungen", "required": False, "maxLength": 1000,
             "multiline": True},
        ]},
    ],
    "comprehension": [
        {"id": "duration", "question": "Wie lange hält die Wirkung meist an?",
         "choices": [{"id": "a", "label": "1-2 Wochen"}, {"id": "b", "label": "3-6 Monate"}],
         "correct": "b", "explanation": "Meist 3 bis 6 Monate."},
    ],
    "declaration": {"title": "Erklärung", "statements": [
        {"id": "talk", "text": "Ich wurde in einem persönlichen Gespräch aufgeklärt (§ 630e BGB)."},
        {"id": "questions", "text": "Meine Fragen wurden beantwortet."},
        {"id": "copy", "text": "Ich erhalte eine Kopie."},
    ]},
    "privacy": {"title": "Datenschutz", "blocks": [{"kind": "paragraph",
                                                    "text": "Verantwortlich: {practiceName}."}]},
    "practiceText": None,
    "signature": {"typedAlternative": False},
})

#: What a patient gives: one wrong comprehension answer before the right one.
FILLED = {
    "answers": {"allergies": ["PENICILLIN"], "allergiesOther": "Jod (Kontrastmittel)",
                "medications": ["Ibuprofen 400"], "pregnant": False, "previousTreatment": True,
                "previousTreatmentDate": "2025-03-14", "area": "GLABELLA",
                "notes": "Bitte natürliche Mimik erhalten"},
    "comprehension": [{"id": "duration", "attempts": ["a", "b"], "passed": True}],
    "declaration": ["talk", "questions", "copy"],
}
SIGNATURE_PNG = sample_png()
SIGNATURE = png_signature(SIGNATURE_PNG)
#: Strings of the answers that must never reach the database in clear.
ANSWER_SECRETS = ("Jod (Kontrastmittel)", "Ibuprofen 400", "natürliche Mimik")


#: Answers for any form document (answers.sample_answers).
fill = sample_answers
