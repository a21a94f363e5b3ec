"""The Personas page: every field of a character sheet, saved to the gateway, and the
system prompt it compiles to for the sliders' current values."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from thinkingthoughts.ui.gateway import GatewayClient, JsonObject
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.persona_form import (
    LOCALES,
    chosen_default_traits,
    form_values,
    sheet_from_form,
)
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.state import flash
from thinkingthoughts.ui.trait_sliders import (
    MAX_LEVEL,
    MIN_LEVEL,
    catalog_default,
    default_levels,
    trait_sliders,
)

Texts = Mapping[str, str]

NEW = "__new__"
CHOICE_KEY = "persona_edit"
SELECT_NEXT = "persona_edit_next"
CONFIRM_DELETE = "persona_confirm_delete"

# (field, widget): the form's text fields in the order they are shown.
FORM_FIELDS = (
    ("name", "input"),
    ("slug", "input"),
    ("base_prompt", "area"),
    ("greeting", "area"),
    ("age", "input"),
    ("tone", "input"),
    ("humor", "input"),
    ("favorite_expressions", "area"),
    ("interests", "area"),
    ("forbidden_topics", "area"),
    ("emoji_usage", "input"),
    ("message_style", "input"),
    ("appearance", "area"),
    ("example_dialogue", "area"),
)


def field_key(choice: str, name: str) -> str:
    """Each persona's form has widgets of its own: switching personas loads its sheet."""
    return f"pf_{choice}_{name}"


def render_personas(gw: GatewayClient, texts: Texts, language: str) -> None:
    st.header(texts["personas.title"])
    personas = gw.personas()
    catalog = gw.traits()
    by_slug = {p["slug"]: p for p in personas if isinstance(p.get("slug"), str)}

    wanted = st.session_state.pop(SELECT_NEXT, None)
    if wanted is not None:
        st.session_state[CHOICE_KEY] = wanted
    if st.session_state.get(CHOICE_KEY) not in (NEW, *by_slug):
        st.session_state[CHOICE_KEY] = NEW
    choice = st.selectbox(
        texts["personas.pick"],
        options=[NEW, *by_slug],
        key=CHOICE_KEY,
        format_func=lambda slug: (
            texts["personas.new"] if slug == NEW else f"{by_slug[slug].get('name')} ({slug})"
        ),
    )
    persona = by_slug.get(choice)
    if persona is not None and persona.get("private"):
        st.caption(texts["personas.private"])

    _fill_form_state(choice, persona, catalog)
    values = _form_widgets(texts, choice)
    sliders = trait_sliders(catalog, language)
    st.subheader(texts["personas.default_traits"])
    columns = st.columns(3)
    for index, slider in enumerate(sliders):
        columns[index % 3].slider(
            slider.label,
            min_value=MIN_LEVEL,
            max_value=MAX_LEVEL,
            step=1,
            key=field_key(choice, f"trait_{slider.id}"),
            help=slider.help(texts["chat.trait_help"]),
        )
    levels = {s.id: int(st.session_state[field_key(choice, f"trait_{s.id}")]) for s in sliders}

    save, delete = st.columns(2)
    if save.button(texts["personas.save"], key="persona_save", type="primary"):
        stored = (persona or {}).get("default_traits") or {}
        traits = chosen_default_traits(levels, stored, catalog_default(catalog))
        _save(gw, texts, choice, values, traits)
    if persona is not None:
        _delete_controls(gw, texts, choice, delete)
        _preview(gw, texts, choice, levels)


def _fill_form_state(choice: str, persona: JsonObject | None, catalog: JsonObject) -> None:
    for name, value in form_values(persona).items():
        st.session_state.setdefault(field_key(choice, name), value)
    for trait_id, level in default_levels(catalog, persona).items():
        st.session_state.setdefault(field_key(choice, f"trait_{trait_id}"), level)


def _form_widgets(texts: Texts, choice: str) -> dict[str, str]:
    for name, widget in FORM_FIELDS:
        label = texts[f"personas.field.{name}"]
        help_text = texts.get(f"personas.help.{name}")
        if widget == "area":
            st.text_area(label, key=field_key(choice, name), help=help_text)
        else:
            st.text_input(label, key=field_key(choice, name), help=help_text)
    st.selectbox(
        texts["personas.field.locale"], options=list(LOCALES), key=field_key(choice, "locale")
    )
    names = [name for name, _ in FORM_FIELDS] + ["locale"]
    return {name: str(st.session_state.get(field_key(choice, name)) or "") for name in names}


def _save(
    gw: GatewayClient,
    texts: Texts,
    choice: str,
    values: Mapping[str, str],
    traits: Mapping[str, int],
) -> None:
    draft = sheet_from_form(values, traits)
    if draft.missing_name:
        st.error(texts["personas.name_required"])
    for line in draft.bad_appearance_lines:
        st.error(texts["personas.bad_appearance"].format(line=line))
    if not draft.ready:
        return
    try:
        if choice == NEW:
            saved = gw.create_persona(draft.sheet)
        else:
            saved = gw.replace_persona(choice, draft.sheet)
    except GatewayProblem as problem:
        st.error(problem_text(problem, texts, url=gw.base_url))
        return
    _forget_form(choice)
    st.session_state[SELECT_NEXT] = saved.get("slug", choice)
    flash("success", texts["personas.saved"].format(name=saved.get("name", "")))
    st.rerun()


def _forget_form(choice: str) -> None:
    prefix = field_key(choice, "")
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def _delete_controls(gw: GatewayClient, texts: Texts, slug: str, place: DeltaGenerator) -> None:
    if st.session_state.get(CONFIRM_DELETE) != slug:
        if place.button(texts["personas.delete"], key="persona_delete"):
            st.session_state[CONFIRM_DELETE] = slug
            st.rerun()
        return
    place.warning(texts["personas.delete_question"].format(slug=slug))
    if place.button(texts["personas.delete_confirm"], key="persona_delete_confirm"):
        st.session_state.pop(CONFIRM_DELETE, None)
        try:
            gw.delete_persona(slug)
        except GatewayProblem as problem:
            st.error(problem_text(problem, texts, url=gw.base_url))
            return
        _forget_form(slug)
        st.session_state[SELECT_NEXT] = NEW
        flash("success", texts["personas.deleted"].format(slug=slug))
        st.rerun()
    if place.button(texts["personas.delete_cancel"], key="persona_delete_cancel"):
        st.session_state.pop(CONFIRM_DELETE, None)
        st.rerun()


def _preview(gw: GatewayClient, texts: Texts, slug: str, levels: Mapping[str, int]) -> None:
    """The saved sheet's system prompt for the sliders as they are now (unsaved edits of
    the other fields show once saved)."""
    st.subheader(texts["personas.preview"])
    try:
        preview = gw.preview(slug, levels)
    except GatewayProblem as problem:
        st.error(problem_text(problem, texts, url=gw.base_url))
        return
    st.caption(texts["personas.preview_tokens"].format(tokens=preview.get("estimated_tokens")))
    st.code(str(preview.get("system_prompt") or ""), language=None, wrap_lines=True)
