"""What the case page says after a step: one sentence per step, from the case as it now stands.

A step answers with a redirect that names the step only (``?done=assign``, never
free text in a URL); the page opens the case again and says here, in words,
what happened and what it means for the reporter or the team. An unknown name
says nothing, so a crafted link cannot put words on a staff page.
"""

from collections.abc import Callable
from datetime import datetime

from .casefile import CaseFile
from .vocabulary import (
    ADMISSIBILITY,
    CLOSURE_FOR_ADMISSIBILITY,
    CLOSURES,
    DISCIPLINARY_ACTIONS,
    FINDINGS,
    PRIORITIES,
    ROOT_CAUSE_NEEDED,
)


def _named(file: CaseFile, staff_id: int | None) -> str:
    """A colleague's e-mail, from the people the case page could name."""
    for candidate in file.candidates.get("override", []):
        if candidate.id == staff_id:
            return candidate.email
    return "them"


def _acknowledged(file: CaseFile) -> str:
    return f"Acknowledged; the reporter now sees the feedback date {file.case.feedback_by.isoformat()}."


def _replied(file: CaseFile) -> str:
    given = file.case.feedback_given_on
    sent = [entry for entry in file.thread if entry.sender == "staff"]
    if given is not None and sent and sent[-1].sent_on == given:
        return (
            "Reply sent as the feedback (EU Art. 9(1)(f)); the feedback deadline is met. "
            "The reporter reads it on the follow-up page with their receipt."
        )
    return "Reply sent; the reporter reads it on the follow-up page with their receipt."


def _investigating(file: CaseFile) -> str:
    due = file.case.investigation_due
    return "Investigation started" + (f"; it is due by {due.isoformat()}." if due else ".")


def _concluded(file: CaseFile) -> str:
    if file.finding is None:
        return "Concluded."
    sentence = f"Concluded: {FINDINGS[file.finding.outcome].lower()}."
    if file.finding.outcome in ROOT_CAUSE_NEEDED:
        sentence += " Record the remediation and any discipline, then close the case."
    return sentence + " Give the reporter feedback on the outcome."


def _closed(file: CaseFile) -> str:
    case = file.case
    how = f" ({CLOSURES[case.closure].lower()})" if case.closure in CLOSURES else ""
    on = f" on {case.closed_on.isoformat()}" if case.closed_on else ""
    return f"Closed{how}{on}; the reporter sees that the case is closed, and the closing message, on the follow-up page."


def _assessed(file: CaseFile) -> str:
    case = file.case
    sentence = f"Assessed: {ADMISSIBILITY.get(case.admissibility or '', 'recorded').lower()}"
    if case.priority in PRIORITIES:
        sentence += f", {PRIORITIES[case.priority].lower()} priority"
    if case.admissibility == "in_scope":
        sentence += "; start the investigation when ready."
    elif case.admissibility in CLOSURE_FOR_ADMISSIBILITY:
        sentence += f"; close the case as {CLOSURES[CLOSURE_FOR_ADMISSIBILITY[case.admissibility]].lower()}."
    else:
        sentence += "."
    if case.retaliation_watch:
        sentence += " The risk to the reporter is high: the case is under a retaliation watch."
    return sentence


def _disciplined(file: CaseFile) -> str:
    if not file.outcomes:
        return "Disciplinary outcome recorded."
    action = DISCIPLINARY_ACTIONS.get(file.outcomes[-1].action, "outcome")
    return f"Disciplinary outcome recorded ({action.lower()}); it counts in the Audit Committee's discipline register."


def _disclosed(file: CaseFile) -> str:
    told = getattr(file.disclosures[-1], "reporter_told", True) if file.disclosures else True
    return "Disclosure of the reporter's identity recorded with its legal basis; " + (
        "the reporter is told on the follow-up page." if told else "the reporter is not told, as that basis allows."
    )


def _revealed(file: CaseFile) -> str:
    until = file.revealed_until
    if until is None:  # the window has passed
        return "The reporter's identity was revealed to you; reveal it again, with a reason, to see it."
    return f"Revealed and logged; the identity shows on this page, to you only, until {_clock(until)}."


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC")


# Every step a form on the case page posts (staff/case_pages.py ACTIONS), and reveal.
SENTENCES: dict[str, Callable[[CaseFile], str]] = {
    "acknowledge": _acknowledged,
    "reply": _replied,
    "note": lambda file: "Note added; staff holding the case read it, the reporter never does.",
    "assign": lambda file: f"Assigned to {_named(file, file.case.assignee_id)}; they now hold the case.",
    # The recusing reader lands on the case list (they no longer hold the case).
    "recuse": lambda file: "You recused yourself; the case is no longer in your list.",
    "assess": _assessed,
    "investigate": _investigating,
    "conclude": _concluded,
    "close": _closed,
    "link": lambda file: "Cases linked; the link shows on both cases.",
    "escalate": lambda file: "Escalated to the Audit Committee; its members now hold the case and decide how it ends.",
    "return": lambda file: "Returned to the Compliance Officer with your instructions; the investigation goes on.",
    "take-over": lambda file: (
        f"Taken over by the Audit Committee and assigned to {_named(file, file.case.assignee_id)}; "
        "the Compliance Officer no longer holds it."
    ),
    "implicate": lambda file: (
        "The staff member you named lost access to this case; only an Audit Committee override gives it back."
    ),
    "override": lambda file: "Granted despite the conflict of interest; the reason is kept in the notes and the audit log.",
    "discipline": _disciplined,
    "protect": lambda file: "Person protected: an HR action against them in the protection window raises a retaliation flag.",
    "remediate": lambda file: "Remediation action added; it is listed on the remediation page and reminded when overdue.",
    "update-remediation": lambda file: "Remediation action updated.",
    "minutes": lambda file: "Minutes recorded; the reporter reads them on the follow-up page and confirms or corrects them.",
    "disclose": _disclosed,
    "reveal": _revealed,
}

# The flags page's steps (steps.FLAG_STEPS): said on that page, where no case is open.
FLAG_SENTENCES: dict[str, str] = {
    "review": "Flag taken under review; resolve it with the grounds found or the remedy given.",
    "resolve": "Flag resolved; the record of its resolution is sealed with the case.",
}


def after(action: str, file: CaseFile) -> str:
    """What the page says after ``action`` on this case ("" for a name it does not know)."""
    builder = SENTENCES.get(action)
    return builder(file) if builder else ""


# The accounts page's changes (cases/accounts.py change_account), and a new account.
ACCOUNT_SENTENCES: dict[str, str] = {
    "created": "Account created. It enrols its second factor at first login.",
    "disable": "Account disabled and its sessions ended; its grants wait, unusable, until it is enabled again.",
    "enable": "Account enabled; it can log in again.",
    "unlock": "Login locks lifted.",
    "reset_second_factor": "Second factor reset; the account enrols a new one at its next login.",
    "role": "Role changed; the account's sessions ended.",
}


def account_notice(change: str, revoked: int = 0) -> str:
    """What the accounts page says after a change ("" for a name it does not know)."""
    sentence = ACCOUNT_SENTENCES.get(change, "")
    if sentence and revoked:
        sentence += f" The account gave up {revoked} case grant(s) its new role may not hold."
    return sentence
