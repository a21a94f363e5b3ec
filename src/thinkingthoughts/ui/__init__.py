"""The chat page: a Streamlit app that talks to the gateway over HTTP only.

Run it with `streamlit run src/thinkingthoughts/ui/app.py` (or `thinkingthoughts up`).
Nothing here reaches into the gateway's code or database: every piece of data comes from
the gateway's HTTP API through `gateway.GatewayClient`.
"""
