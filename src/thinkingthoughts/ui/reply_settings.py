"""The Chat page's reply settings: the persona (with its picture), the upstream model, the
trait sliders, temperature and max tokens, their values between reruns, and
`ReplySettings`, what they ask of the next reply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from thinkingthoughts.ui.avatar import persona_avatar
from thinkingthoughts.ui.gateway import GatewayClient, JsonObject
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.state import SYNC_FROM_SESSION
from thinkingthoughts.ui.trait_sliders import (
    MAX_LEVEL,
    MIN_LEVEL,
    TraitSlider,
    default_levels,
    session_levels,
)

Texts = Mapping[str, str]

PERSONA_KEY = "persona"
MODEL_KEY = "model"
TEMPERATURE_KEY = "temperature"
MAX_TOKENS_KEY = "max_tokens"
PERSONA_CHANGED = "persona_changed"

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 512
MAX_TOKENS_CEILING = 32_768
SLIDER_COLUMNS = 3


def trait_key(trait_id: str) -> str:
    return f"trait_{trait_id}"


@dataclass(frozen=True)
class ReplySettings:
    persona: str
    traits: dict[str, int]
    temperature: float
    max_tokens: int
    model: str | None
    """An upstream model to ask for; None for the gateway's own choice."""


def available_models(gw: GatewayClient, texts: Texts) -> list[str]:
    """The upstream models to pick from; none (the gateway's choice) when the inference
    server cannot list them: the conversation stays readable meanwhile."""
    try:
        return gw.models()
    except GatewayProblem as problem:
        if problem.kind != "upstream":
            raise
        st.warning(problem_text(problem, texts, url=gw.base_url))
        return []


# -- the widgets' values, set before they are drawn ----------------------------------------


def prepare_widget_state(
    by_slug: Mapping[str, JsonObject],
    catalog: JsonObject,
    session: JsonObject | None,
    models: list[str],
    *,
    default_persona: str | None = None,
) -> None:
    """Set the widgets' values before they are drawn: from an opened session, from a newly
    chosen persona's defaults, or their first values (the gateway's default persona)."""
    state = st.session_state
    synced = bool(state.pop(SYNC_FROM_SESSION, False)) and session is not None
    if synced and session is not None and session.get("persona") in by_slug:
        state[PERSONA_KEY] = session["persona"]
    elif state.get(PERSONA_KEY) not in by_slug:
        state[PERSONA_KEY] = opening_persona(by_slug, default_persona)
    persona = by_slug[state[PERSONA_KEY]]
    if synced and session is not None:
        _set_levels(session_levels(catalog, persona, session.get("traits") or {}), replace=True)
    else:
        changed = bool(state.pop(PERSONA_CHANGED, False))
        _set_levels(default_levels(catalog, persona), replace=changed)
    state.setdefault(TEMPERATURE_KEY, DEFAULT_TEMPERATURE)
    state.setdefault(MAX_TOKENS_KEY, DEFAULT_MAX_TOKENS)
    if models and state.get(MODEL_KEY) not in models:
        state[MODEL_KEY] = models[0]


def opening_persona(by_slug: Mapping[str, JsonObject], default: str | None) -> str:
    """The persona the page opens on: the gateway's default, else the first listed."""
    if default is not None and default in by_slug:
        return default
    return next(iter(by_slug))


def _set_levels(levels: Mapping[str, int], *, replace: bool) -> None:
    for trait_id, level in levels.items():
        if replace or trait_key(trait_id) not in st.session_state:
            st.session_state[trait_key(trait_id)] = level


def _persona_changed() -> None:
    st.session_state[PERSONA_CHANGED] = True


# -- the widgets ------------------------------------------------------------------------------


def render_reply_settings(
    texts: Texts,
    by_slug: Mapping[str, JsonObject],
    sliders: list[TraitSlider],
    models: list[str],
) -> ReplySettings:
    persona = by_slug[st.session_state[PERSONA_KEY]]
    picture, picker, model_picker = st.columns([1, 6, 4], vertical_alignment="bottom")
    with picture:
        _show_avatar(persona)
    picker.selectbox(
        texts["chat.persona"],
        options=list(by_slug),
        key=PERSONA_KEY,
        format_func=lambda slug: str(by_slug[slug].get("name") or slug),
        on_change=_persona_changed,
        persist_state="session",
    )
    if models:
        model_picker.selectbox(
            texts["chat.model"], options=models, key=MODEL_KEY, persist_state="session"
        )
    with st.expander(texts["chat.settings"], expanded=True):
        columns = st.columns(SLIDER_COLUMNS)
        for index, slider in enumerate(sliders):
            columns[index % SLIDER_COLUMNS].slider(
                slider.label,
                min_value=MIN_LEVEL,
                max_value=MAX_LEVEL,
                step=1,
                key=trait_key(slider.id),
                help=slider.help(texts["chat.trait_help"]),
                persist_state="session",
            )
        temperature, max_tokens = st.columns(2)
        temperature.slider(
            texts["chat.temperature"],
            min_value=0.0,
            max_value=2.0,
            step=0.05,
            key=TEMPERATURE_KEY,
            help=texts["chat.temperature_help"],
            persist_state="session",
        )
        max_tokens.number_input(
            texts["chat.max_tokens"],
            min_value=1,
            max_value=MAX_TOKENS_CEILING,
            step=1,
            key=MAX_TOKENS_KEY,
            help=texts["chat.max_tokens_help"],
            persist_state="session",
        )
    chosen_model = st.session_state.get(MODEL_KEY) if models else None
    return ReplySettings(
        persona=str(st.session_state[PERSONA_KEY]),
        traits={s.id: int(st.session_state[trait_key(s.id)]) for s in sliders},
        temperature=float(st.session_state[TEMPERATURE_KEY]),
        max_tokens=int(st.session_state[MAX_TOKENS_KEY]),
        model=chosen_model if models and chosen_model != models[0] else None,
    )


def _show_avatar(persona: JsonObject) -> None:
    avatar = persona_avatar(persona)
    if avatar.kind == "image":
        st.image(avatar.value, width=56)
    elif avatar.kind == "symbol":
        st.markdown(f"## {avatar.value}")
    else:
        st.markdown(f"## :violet-background[{avatar.value}]")
