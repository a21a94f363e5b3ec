"""The Usage page: who the key is, and its requests and tokens per day and per persona;
admins may sum every key's."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from thinkingthoughts.ui.gateway import GatewayClient, JsonObject
from thinkingthoughts.ui.usage_data import per_day, per_persona, report_rows, totals

Texts = Mapping[str, str]

DAYS = 30
SCOPE_KEY = "usage_scope"
OWN = "own"
ALL_KEYS = "all"


def render_usage(gw: GatewayClient, texts: Texts, language: str) -> None:
    st.header(texts["usage.title"])
    me = gw.me()
    scopes = [str(s) for s in me.get("scopes") or []]
    st.caption(
        texts["usage.who"].format(
            name=me.get("name", ""),
            prefix=me.get("prefix", ""),
            scopes=", ".join(scopes),
            owner=me.get("owner", ""),
        )
    )
    scope = OWN
    if "admin" in scopes:
        labels = {OWN: texts["usage.scope_own"], ALL_KEYS: texts["usage.scope_all"]}
        scope = str(
            st.selectbox(
                texts["usage.scope"],
                options=[OWN, ALL_KEYS],
                key=SCOPE_KEY,
                format_func=lambda option: labels[option],
            )
        )
    reports: list[JsonObject]
    if scope == ALL_KEYS:
        reports = [gw.usage(str(key["id"]), days=DAYS) for key in gw.api_keys()]
    else:
        reports = [gw.usage("me", days=DAYS)]
    rows = report_rows(reports)
    summed = totals(rows)
    st.caption(texts["usage.period"].format(days=DAYS))
    for column, figure in zip(
        st.columns(4),
        ("requests", "prompt_tokens", "completion_tokens", "total_tokens"),
        strict=True,
    ):
        column.metric(texts[f"usage.{figure}"], f"{summed[figure]:,}")
    if not rows:
        st.info(texts["usage.none"])
        return
    names = {
        figure: texts[f"usage.{figure}"]
        for figure in ("requests", "prompt_tokens", "completion_tokens", "total_tokens")
    }
    names["day"] = texts["usage.day"]
    names["persona"] = texts["usage.persona"]
    daily = _renamed(per_day(rows), names)
    by_persona = _renamed(per_persona(rows, texts["usage.no_persona"]), names)
    tokens = [names["prompt_tokens"], names["completion_tokens"]]

    st.subheader(texts["usage.per_day"])
    st.bar_chart(daily, x=names["day"], y=names["requests"])
    st.bar_chart(daily, x=names["day"], y=tokens)
    st.subheader(texts["usage.per_persona"])
    st.bar_chart(by_persona, x=names["persona"], y=names["requests"])
    st.bar_chart(by_persona, x=names["persona"], y=tokens)


def _renamed(
    columns: Mapping[str, list[object]], names: Mapping[str, str]
) -> dict[str, list[object]]:
    return {names.get(name, name): values for name, values in columns.items()}
