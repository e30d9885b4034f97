"""The words of the domain, defined once: roles, statuses, deadline windows, and the labels people read.

Everything that names a role, a status or a coded choice imports it from here,
so the schema's check constraints, the rules, the pages and the exports
cannot drift apart.
"""

from datetime import timedelta

# Roles

ROLES = ("compliance_officer", "investigator", "audit_committee", "admin")
# Roles that can hold cases; administrators never do.
CASE_ROLES = frozenset({"compliance_officer", "investigator", "audit_committee"})
# Acknowledge, assign, move through the workflow, hand over.
MANAGING_ROLES = frozenset({"compliance_officer", "audit_committee"})
COMMITTEE_ROLES = frozenset({"audit_committee"})
OFFICER_ROLES = frozenset({"compliance_officer"})
AUDIT_READERS = frozenset({"admin", "audit_committee"})
ACCOUNT_MANAGERS = frozenset({"admin"})
# Who may be assigned a case.
ASSIGNABLE_ROLES = ("investigator", "compliance_officer", "audit_committee")
# Who the Committee may give a case it takes over: one of its members, or outside counsel's investigator account.
TAKE_OVER_ROLES = ("audit_committee", "investigator")
# Roles that receive reports at intake.
RECEIVING_ROLES = ("compliance_officer", "audit_committee")

# Cases

ROUTINGS = ("compliance_officer", "audit_committee")
STATUSES = ("received", "acknowledged", "investigating", "escalated", "concluded", "closed")
# Acknowledged and not yet concluded: the feedback deadline runs.
OPEN_STATUSES = ("acknowledged", "investigating", "escalated")
# Deadline windows: a deadline this close is "due" in the list, the reminders and the digest.
ACKNOWLEDGE_SOON = timedelta(days=2)
FEEDBACK_SOON = timedelta(days=14)
CATEGORIES = {
    "foreign_bribery": "Bribery of a foreign official",
    "gifts_hospitality": "Improper gift, meal, travel or entertainment",
    "facilitation_payment": "Facilitation payment",
    "third_party": "Payment through a third party or intermediary",
    "donation_sponsorship": "Charitable donation or sponsorship",
    "books_records": "False or missing books and records",
    "internal_controls": "Circumvention of internal controls",
    "retaliation": "Retaliation against someone who reported",
    "other": "Other",
}
ROUTING_LABELS = {
    "compliance_officer": "Compliance Officer",
    "audit_committee": "Audit Committee only (concerns leadership)",
}
HOLDERS = ("staff", "recovery", "reporter")
# "note": an internal note of staff, never shown to the reporter;
# "system": a message the system sends the reporter (a post-closure check-in).
SENDERS = ("reporter", "staff", "note", "system")
SENDER_LABELS = {"reporter": "Reporter", "staff": "Reply", "note": "Internal note", "system": "Check-in from the system"}
FINDINGS = {
    "substantiated": "Substantiated",
    "partly_substantiated": "Partly substantiated",
    "unsubstantiated": "Unsubstantiated",
    "insufficient_information": "Insufficient information",
}
# Findings that must name their root cause.
ROOT_CAUSE_NEEDED = frozenset({"substantiated", "partly_substantiated"})
SESSION_STATES = ("enrolling", "active")
# Disciplinary actions, from the policy's "Disciplinary action" section.
DISCIPLINARY_ACTIONS = {
    "oral_reprimand": "Oral reprimand",
    "written_reprimand": "Written reprimand",
    "suspension": "Suspension",
    "termination_of_employment": "Termination of employment",
    "termination_of_relationship": "Termination of the business relationship",
    "training": "Training",
    "recovery_of_loss": "Recovery of loss",
    "referral_to_authorities": "Referral to authorities",
    "no_action": "No action",
}
SUBJECT_TYPES = {"employee": "Employee", "officer": "Officer", "director": "Director", "third_party": "Third party"}

# Retaliation

# Forms of retaliation, EU Directive 2019/1937 Art. 19.
RETALIATION_FORMS = {
    "suspension_dismissal": "Suspension, lay-off or dismissal",
    "demotion": "Demotion or withheld promotion",
    "transfer": "Transfer of duties, change of location",
    "pay_hours": "Reduction in pay or change in working hours",
    "training_withheld": "Withholding of training",
    "negative_appraisal": "Negative appraisal or employment reference",
    "disciplinary_measure": "Disciplinary measure, reprimand or penalty",
    "coercion": "Coercion, intimidation, harassment or ostracism",
    "discrimination": "Discrimination, disadvantage or unfair treatment",
    "temporary_not_converted": "Failure to convert a temporary contract into a permanent one",
    "not_renewed": "Failure to renew or early termination of a temporary contract",
    "harm": "Harm, including to reputation, or financial loss",
    "blacklisting": "Blacklisting",
    "supply_contract_terminated": "Early termination or cancellation of a contract for goods or services",
    "licence_cancelled": "Cancellation of a licence or permit",
    "medical_referral": "Psychiatric or medical referral",
}
FLAG_SOURCES = ("reporter", "hr_match", "check_in")
FLAG_SOURCE_LABELS = {"reporter": "reporter", "hr_match": "HR match", "check_in": "check-in"}
FLAG_STATUSES = ("open", "under_review", "resolved")
FLAG_RESOLUTIONS = {"justified_grounds": "Justified grounds for the action found", "remedy": "Remedy provided"}
PROTECTED_ROLES = {"reporter": "Confidential reporter", "witness": "Witness", "helper": "Person who helped"}
