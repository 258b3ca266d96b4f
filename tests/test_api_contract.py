"""The API against its own OpenAPI document, with schemathesis: every operation, a bounded
number of generated requests each (valid and invalid ones), with an ADMIN token and without.
No answer may be a 5xx (503 is declared, but the database is up here), and every status,
content type and body must be what the document declares for that operation. In-process
(WSGI), on PostgreSQL as the application role: no live server, so `make test-dates` does not
run it again."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as run_with
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import open_session
from tests.support.consent import team

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance]
#: Generated requests per operation (each sent twice): enough to reach the declared branches
#: of the schemas, few enough that the run stays within a few minutes on two cores.
EXAMPLES = 20


@pytest.mark.parametrize("engine", ["postgresql"])  # as the application role, under RLS
def test_every_operation_answers_as_documented(request, app, client, settings):
    practice = team(client)
    # The app's clock, to open sessions on; asked for here rather than as an argument, which
    # would make the test date-sensitive (make test-dates), which it is not.
    clock = request.getfixturevalue("clock")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @run_with(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def answers_as_documented(case):
            # A session of its own: an earlier request may have signed the last one out.
            admin = {"Authorization": f"Bearer {open_session(settings, clock, practice.user_id())}"}
            for headers in (admin, {}):  # as the practice's ADMIN, and without a token
                statuses[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1

        try:
            answers_as_documented()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters, no body)
        except Exception as exc:  # every operation's failures, not only the first one's
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    print(f"{len(operations)} operations, {statuses.total()} requests; statuses {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)
