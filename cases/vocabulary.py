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
# The same, in the case list's narrow column (the full label is its title).
ROUTING_SHORT = {"compliance_officer": "Officer", "audit_committee": "Committee"}
# How a report came in (EU Directive 2019/1937 Art. 9(2)): the web form, or an operator
# typing in what came by another channel through the intake API.
CHANNELS = {
    "web": "Web form",
    "phone": "Hotline phone",
    "letter": "Letter",
    "email": "E-mail",
    "meeting": "In-person meeting",
}

# Assessment (ISO 37002 8.3): is the report for this channel, how urgent, how exposed is the reporter.
ADMISSIBILITY = {
    "in_scope": "In scope: to be investigated",
    "out_of_scope": "Out of scope",
    "duplicate": "Duplicate of another case",
    "insufficient_information": "Insufficient information",
    "refer": "To be referred elsewhere (HR, a competent authority)",
}
PRIORITIES = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
# The risk of detriment to the reporter; "high" puts the case under a retaliation watch.
DETRIMENT_RISKS = {"low": "Low", "medium": "Medium", "high": "High"}
# What the report alleges, in the policy's own terms (fcpa-policy.txt, "General standards"
# and "Permitted actions"); a report may allege several.
ALLEGATION_TYPES = {
    "official_bribery": "Payment, offer or promise to a foreign official",
    "improper_advantage_received": "Favour or gift received in return for a payment to an official",
    "gift_outside_exception": "Gift outside the policy's conditions (cash, over $100, personal use)",
    "hospitality_travel": "Meals, entertainment, travel or lodging for an official",
    "facilitation_payment": "Facilitation payment not pre-approved or not recorded",
    "third_party_payment": "Payment through an agent, distributor, consultant or partner",
    "donation_sponsorship": "Donation or sponsorship without written pre-approval",
    "false_records": "False, missing or misleading books and records",
    "control_circumvention": "Circumvention of internal accounting controls",
    "wilful_blindness": "Conscious disregard of red flags",
    "retaliation": "Retaliation against someone who reported",
    "other": "Other",
}
# The lists an administrator keeps for coding a case (``cases/lists.py``).
LIST_KINDS = {"business_unit": "Business units", "country": "Countries"}

# How a case ends. "investigated" follows a finding; the others close a case without an investigation.
CLOSURES = {
    "investigated": "Investigated and concluded",
    "out_of_scope": "Out of scope",
    "duplicate": "Duplicate of another case",
    "referred": "Referred elsewhere",
    "insufficient_information": "Insufficient information after asking the reporter",
    "withdrawn": "Withdrawn by the reporter",
}
UNINVESTIGATED_CLOSURES = tuple(code for code in CLOSURES if code != "investigated")
# The closure an assessment leads to, when it finds the case not admissible.
CLOSURE_FOR_ADMISSIBILITY = {
    "out_of_scope": "out_of_scope",
    "duplicate": "duplicate",
    "insufficient_information": "insufficient_information",
    "refer": "referred",
}
# A link as seen from one of its two cases: each link is stored in both directions.
LINK_KINDS = {"related": "Related to", "duplicate_of": "Duplicate of", "duplicated_by": "Duplicated by"}
LINK_REVERSE = {"related": "related", "duplicate_of": "duplicated_by", "duplicated_by": "duplicate_of"}

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
# Why it happened, coded so it can be counted (the DOJ's "root cause analysis"); the explanation stays sealed.
ROOT_CAUSES = {
    "inadequate_controls": "Inadequate controls",
    "third_party_due_diligence": "Third-party due diligence",
    "pressure_incentives": "Pressure or incentives",
    "management_override": "Management override",
    "training_gap": "Training gap",
    "tone_at_the_top": "Tone at the top",
    "other": "Other",
}
# What the company does about a substantiated finding.
REMEDIATION_STATUSES = {"open": "Open", "in_progress": "In progress", "done": "Done", "verified": "Verified"}
OPEN_REMEDIATION = ("open", "in_progress")

# Minutes of a call or meeting with the reporter (EU Art. 18(2)-(4)): the reporter confirms or corrects them.
MEETING_KINDS = {"call": "Telephone call", "video": "Video call", "meeting": "Meeting in person"}
MINUTES_ANSWERS = {"confirmed": "Confirmed by the reporter", "corrected": "Corrected by the reporter"}

# Passing the reporter's identity outside the team (EU Art. 16(2)-(3)): the legal basis, recorded.
DISCLOSURE_BASES = {
    "consent": "The reporter's explicit consent",
    "authority_investigation": "An investigation by a national authority",
    "judicial_proceedings": "Judicial proceedings",
    "rights_of_defence": "The rights of defence of the person concerned",
}
# A basis under which the reporter may go untold, when telling them would jeopardise the
# investigation or the proceedings (Art. 16(3)); under consent they always know.
DISCLOSURE_MAY_WITHHOLD = frozenset({"authority_investigation", "judicial_proceedings"})
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
FLAG_RESOLUTIONS = {
    "justified_grounds": "Justified grounds for the action found",
    "remedy": "Remedy provided",
    "duplicate": "Duplicate of another flag",
    "unfounded": "Unfounded: no adverse action took place",
}
PROTECTED_ROLES = {"reporter": "Confidential reporter", "witness": "Witness", "helper": "Person who helped"}
