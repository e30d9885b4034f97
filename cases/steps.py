"""Which steps a staff member may take on a case now: the workflow's rules, in one table.

A step is allowed by role (who may take it at all) and by the case's state
(when it can be taken). ``granted_case`` checks both for every step; the case
page shows only the steps ``allowed_steps`` returns; the staff face's action
table and the access-matrix test are built from ``STEPS``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import Forbidden, InvalidInput, WrongStatus
from .models import Case
from .vocabulary import ACCOUNT_MANAGERS, AUDIT_READERS, CASE_ROLES, COMMITTEE_ROLES, MANAGING_ROLES, OFFICER_ROLES


@dataclass(frozen=True)
class Step:
    roles: frozenset[str]
    # Whether the case's state (a flag's, in FLAG_STEPS) lets this role take the step now.
    when: Callable[[Any, str], bool]
    # Why the case's state refuses the step.
    refusal: str = WrongStatus.detail
    # A step that changes the case locks it first (see access.granted_case); a read does not.
    changes: bool = True
    # A step that cannot be undone: the form must carry the staff member's confirmation.
    irreversible: bool = False


def _always(case: Case, role: str) -> bool:
    return True


def _open(case: Case, role: str) -> bool:
    return case.status != "closed"


def _undecided(case: Case, role: str) -> bool:
    return case.status not in ("concluded", "closed")


def _conclude(case: Case, role: str) -> bool:
    # Once escalated, the Committee concludes (or returns the case); the Compliance Officer cannot.
    return case.status == "investigating" or (case.status == "escalated" and role in COMMITTEE_ROLES)


def _close(case: Case, role: str) -> bool:
    # After a finding, or without an investigation (cases/lifecycle.py checks the closure code
    # against the status). Once escalated, only the Committee closes it.
    if case.status == "escalated" or (case.status == "concluded" and case.escalated_on is not None):
        return role in COMMITTEE_ROLES
    return case.status != "closed"


def _assess(case: Case, role: str) -> bool:
    # With the acknowledgement or after it, and again while the investigation runs.
    return case.status in ("received", "acknowledged", "investigating") or (
        case.status == "escalated" and role in COMMITTEE_ROLES
    )


def _remediable(case: Case, role: str) -> bool:
    return case.status in ("concluded", "closed")


STEPS: dict[str, Step] = {
    # Reading a case, and what every holder may do with it.
    "view": Step(CASE_ROLES, _always, changes=False),
    "download": Step(CASE_ROLES, _always, changes=False),
    # The case as a PDF for counsel or a regulator (cases/export.py); with the identity, "reveal" too.
    "export": Step(CASE_ROLES, _always, changes=False),
    "reply": Step(CASE_ROLES, _always),
    "note": Step(CASE_ROLES, _always),
    "recuse": Step(CASE_ROLES, _always, irreversible=True),
    "minutes": Step(CASE_ROLES, _open, "A closed case takes no more minutes."),
    # Who the reporter is stays with the managing roles (EU Art. 16): learning it, and passing it on.
    "reveal": Step(MANAGING_ROLES, _always),
    "disclose": Step(MANAGING_ROLES, _always),
    # Managing the case through its workflow.
    "acknowledge": Step(MANAGING_ROLES, lambda c, r: c.status == "received", "This report has been acknowledged already."),
    "assess": Step(MANAGING_ROLES, _assess, "A decided case cannot be assessed again."),
    "investigate": Step(
        MANAGING_ROLES,
        lambda c, r: c.status == "acknowledged" and c.admissibility == "in_scope",
        "Only an acknowledged case assessed as in scope can be investigated.",
    ),
    # Linking needs both cases held (cases/lifecycle.py checks the other one).
    "link": Step(MANAGING_ROLES, _always),
    "assign": Step(MANAGING_ROLES, _open, "A closed case cannot be assigned."),
    "conclude": Step(
        MANAGING_ROLES, _conclude, "Only a case under investigation can be concluded; an escalated one, by the Audit Committee."
    ),
    "close": Step(
        MANAGING_ROLES,
        _close,
        "This case is closed already; an escalated one is closed by the Audit Committee.",
        irreversible=True,
    ),
    # Even on a closed case: a conflict found late must still take the key away.
    "implicate": Step(MANAGING_ROLES, _always),
    "protect": Step(MANAGING_ROLES, _always),
    "discipline": Step(
        MANAGING_ROLES,
        lambda c, r: c.status in ("concluded", "closed"),
        "Discipline is recorded once the investigation is concluded.",
    ),
    "remediate": Step(MANAGING_ROLES, _remediable, "Remediation follows a concluded investigation."),
    "update-remediation": Step(MANAGING_ROLES, _remediable, "Remediation follows a concluded investigation."),
    # The Compliance Officer's way to the Audit Committee.
    "escalate": Step(
        OFFICER_ROLES,
        lambda c, r: c.status not in ("escalated", "concluded", "closed"),
        "This case cannot be escalated in its present status.",
    ),
    # The Audit Committee's own steps.
    "return": Step(
        COMMITTEE_ROLES,
        lambda c, r: c.status == "escalated" and c.routing != "audit_committee",
        "Only a case escalated from the Compliance Officer can be returned.",
    ),
    "take-over": Step(COMMITTEE_ROLES, _undecided, "A decided case cannot be taken over."),
    "override": Step(COMMITTEE_ROLES, _undecided, "A decided case cannot be granted despite a conflict."),
}


# Working a retaliation flag: the Compliance Officer, on a case they hold, and the Audit
# Committee, on any flag it may see (retaliation.py checks the grant and the exclusion).
FLAG_STEPS: dict[str, Step] = {
    "review": Step(MANAGING_ROLES, lambda f, r: f.status == "open", "Only an open flag can be taken under review."),
    "resolve": Step(MANAGING_ROLES, lambda f, r: f.status != "resolved", "This flag is resolved already.", irreversible=True),
}


def check_role(role: str, step: str, table: dict[str, Step] = STEPS) -> None:
    """``Forbidden`` unless the role may take this step on any case (or flag)."""
    if role not in table[step].roles:
        raise Forbidden()


def check_state(subject: Any, role: str, step: str, table: dict[str, Step] = STEPS) -> None:
    """``WrongStatus`` unless the case's (or flag's) present state allows the step."""
    if not table[step].when(subject, role):
        raise WrongStatus(table[step].refusal)


CONFIRM_FIELD = "confirm"


def check_confirmed(step: Step, confirmation: object) -> None:
    """``InvalidInput`` unless an irreversible step comes with its confirmation ticked."""
    if step.irreversible:
        require_confirmation(confirmation == "yes")


def require_confirmation(confirmed: bool) -> None:
    """``InvalidInput`` unless the box that confirms an act that cannot be undone was ticked
    (a case's irreversible steps, a hand-over, disabling an account): checked before anything changes."""
    if not confirmed:
        raise InvalidInput(fields={CONFIRM_FIELD: "Tick the box to confirm: this cannot be undone."})


def allowed_steps(role: str, subject: Any, table: dict[str, Step] = STEPS) -> frozenset[str]:
    """The steps this role may take on this case (or flag) now (the caller holds its grant)."""
    return frozenset(name for name, step in table.items() if role in step.roles and step.when(subject, role))


# The staff pages that are not about one case, and the roles that may open them
# (each page's domain function checks these same role sets; the menu shows these pages).
PAGES: dict[str, frozenset[str]] = {
    "cases": CASE_ROLES,
    "committee_queue": COMMITTEE_ROLES,
    "register": COMMITTEE_ROLES,  # the discipline register
    "complaints": COMMITTEE_ROLES,  # the register of every complaint (cases/register.py)
    # Figures over plain metadata: the Compliance Officer's over the cases they hold, the Committee's over all.
    "dashboard": MANAGING_ROLES,
    "boardpack": COMMITTEE_ROLES,  # the PDF for the Board, made by the Committee only
    "flags": CASE_ROLES,  # each sees the flags of the cases they hold; the Committee, all
    "remediation": MANAGING_ROLES,  # the actions of the cases they hold
    "team": MANAGING_ROLES,
    "accounts": ACCOUNT_MANAGERS,
    "lists": ACCOUNT_MANAGERS,
    "audit": AUDIT_READERS,
}


def allowed_pages(role: str) -> frozenset[str]:
    return frozenset(name for name, roles in PAGES.items() if role in roles)
