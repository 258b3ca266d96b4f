"""Plan enforcement in one place: the 402 gate for staff requests, the monthly consent limit
and the team-size limit. Only built when billing is enabled; without it nothing here runs.

Wired in three spots, each one call: the access-control middleware asks `gate` after
authentication, `Consents.create` asks `check_consent_quota` and `Team` asks `check_seat`
(its SeatPolicy) inside their transactions.
"""

from __future__ import annotations

import hashlib
import uuid

import peewee

from appliance import tenancy
from appliance.billing import plans
from appliance.clock import Clock
from appliance.db import engine_of
from appliance.http.errors import ApiError
from appliance.models import ConsentForm, Practice, Subscription, User
from appliance.principal import Principal

#: Staff requests that stay open when the trial or subscription has ended: billing (so that
#: the ADMIN can pay) and what a client needs to log in and show who and where one is.
EXEMPT_PREFIXES = ("/api/billing/", "/api/auth/")
EXEMPT_ROUTES = frozenset({("/api/practice", "GET")})
_LOCK_PREFIX = b"appliance consent quota|"


def is_exempt(template: str, method: str) -> bool:
    return template.startswith(EXEMPT_PREFIXES) or (template, method) in EXEMPT_ROUTES


def subscription_required(standing: plans.Standing) -> ApiError:
    ended = "trial" if standing.plan == plans.FREE_TRIAL else "subscription"
    return ApiError(
        402, "subscription_required",
        f"the practice's {ended} has ended: an ADMIN can choose a plan under billing",
        {"plan": standing.plan, "status": standing.status},
    )


def limit_reached(what: str, standing: plans.Standing, allowed: int, used: int) -> ApiError:
    return ApiError(
        402, "plan_limit_reached", f"the {standing.plan} plan allows {allowed} {what}; upgrade under billing",
        {"limit": what, "plan": standing.plan, "allowed": allowed, "used": used},
    )


class PlanEnforcement:
    def __init__(self, database: peewee.Database, clock: Clock):
        self._db = database
        self._postgres = engine_of(database) == "postgresql"
        self._clock = clock

    def standing(self, practice_id: uuid.UUID) -> plans.Standing:
        with tenancy.practice_scope(practice_id):
            practice = Practice.get_by_id(practice_id)
            row = Subscription.get_or_none(Subscription.practice_id == practice_id)
        return plans.standing(row, practice.created_at, self._clock.now())

    def gate(self, template: str, method: str, principal: Principal) -> None:
        """402 for a staff request of a practice whose trial or subscription has ended."""
        if principal.practice_id is None or is_exempt(template, method):
            return
        standing = self.standing(principal.practice_id)
        if not standing.may_work:
            raise subscription_required(standing)

    def consents_this_month(self, practice: Practice) -> int:
        start, end = plans.month_bounds(self._clock.now(), practice.timezone)
        with tenancy.practice_scope(practice.id):
            return ConsentForm.select().where(
                ConsentForm.created_at >= start, ConsentForm.created_at < end
            ).count()

    @staticmethod
    def members(practice_id: uuid.UUID) -> int:
        with tenancy.practice_scope(practice_id):
            return User.select().where(User.practice_id == practice_id).count()

    def check_consent_quota(self, practice: Practice) -> None:
        """Inside the creating transaction: counts this calendar month's forms under a lock,
        so concurrent creations cannot both take the last one."""
        standing = self.standing(practice.id)
        if not standing.may_work:
            raise subscription_required(standing)  # for creators outside a request (GDT import)
        allowed = standing.limits.consents_per_month
        if allowed is None:
            return
        if self._postgres:
            digest = hashlib.sha256(_LOCK_PREFIX + practice.id.bytes).digest()
            self._db.execute_sql("SELECT pg_advisory_xact_lock(%s)",
                                 (int.from_bytes(digest[:8], "big", signed=True),))
        used = self.consents_this_month(practice)
        if used >= allowed:
            raise limit_reached("consents per month", standing, allowed, used)

    def check_seat(self, practice_id: uuid.UUID) -> None:
        """Team's SeatPolicy, asked under the team lock before an invite and before a join.

        Members are counted, not open invites: a resend would otherwise count its own invite.
        So invites beyond the free seats can be sent, and the first to accept gets the seat.
        """
        standing = self.standing(practice_id)
        allowed = standing.limits.members
        if allowed is None:
            return
        used = self.members(practice_id)
        if used >= allowed:
            raise limit_reached("members", standing, allowed, used)
