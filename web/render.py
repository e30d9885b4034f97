"""Pages from ``templates/``: the Jinja2 environment both faces share, and ``render``."""

from pathlib import Path
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context as TemplateContext
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from cases import lifecycle, steps, vocabulary
from cases.settings import Settings

from .csrf import csrf_token, set_csrf_cookie

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pass_context
def url(context: TemplateContext, name: str, /, **path_params: Any) -> str:
    """The path of a named route, whichever face the page belongs to (``url('staff:case', reference=...)``)."""
    request: Request = context["request"]
    return str(request.scope["router"].url_path_for(name, **path_params))


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals["organisation"] = settings.organisation
    templates.env.globals["url"] = url
    # The domain's words, for labels and choices on every page.
    templates.env.globals.update(
        categories=vocabulary.CATEGORIES,
        statuses=vocabulary.STATUSES,
        findings=vocabulary.FINDINGS,
        admissibility=vocabulary.ADMISSIBILITY,
        priorities=vocabulary.PRIORITIES,
        detriment_risks=vocabulary.DETRIMENT_RISKS,
        allegation_types=vocabulary.ALLEGATION_TYPES,
        closures=vocabulary.CLOSURES,
        closing_messages=lifecycle.CLOSING_MESSAGES,
        link_kinds=vocabulary.LINK_KINDS,
        list_kinds=vocabulary.LIST_KINDS,
        root_causes=vocabulary.ROOT_CAUSES,
        remediation_statuses=vocabulary.REMEDIATION_STATUSES,
        disciplinary_actions=vocabulary.DISCIPLINARY_ACTIONS,
        subject_types=vocabulary.SUBJECT_TYPES,
        protected_roles=vocabulary.PROTECTED_ROLES,
        retaliation_forms=vocabulary.RETALIATION_FORMS,
        flag_resolutions=vocabulary.FLAG_RESOLUTIONS,
        disclosure_bases=vocabulary.DISCLOSURE_BASES,
        disclosure_may_withhold=vocabulary.DISCLOSURE_MAY_WITHHOLD,
        sender_labels=vocabulary.SENDER_LABELS,
        flag_source_labels=vocabulary.FLAG_SOURCE_LABELS,
        pages_for=steps.allowed_pages,
        routing_labels=vocabulary.ROUTING_LABELS,
        routing_short=vocabulary.ROUTING_SHORT,
        roles=vocabulary.ROLES,
        channels=vocabulary.CHANNELS,
        meeting_kinds=vocabulary.MEETING_KINDS,
    )
    return templates


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """A page from ``templates/``, with the CSRF cookie set when the page made a new token."""
    response = request.app.state.templates.TemplateResponse(
        request, template, {"csrf_token": csrf_token(request), **(context or {})}, status_code=status_code
    )
    set_csrf_cookie(request, response)
    return response
