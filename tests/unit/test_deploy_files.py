"""The deployment files, checked as files (no container engine runs here): the compose
file and the Swarm stack against the Compose Specification's schema and against what the
stack needs, the Dockerfile's stages, the Prometheus and Grafana provisioning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

ROOT = Path(__file__).parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE_SCHEMA = ROOT / "tests" / "schemas" / "compose-spec.json"
SWARM_STACK = ROOT / "deploy" / "swarm" / "stack.yml"
GRAFANA = ROOT / "deploy" / "grafana"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    loaded = yaml.safe_load(SWARM_STACK.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _schema_problems(document: dict[str, Any]) -> list[str]:
    validator = Draft201909Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert _schema_problems(compose) == []


def test_the_swarm_stack_follows_the_compose_specification(stack: dict[str, Any]) -> None:
    assert _schema_problems(stack) == []


def test_the_schema_check_would_catch_a_mistake(compose: dict[str, Any]) -> None:
    validator = Draft201909Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    broken = {**compose, "services": {**compose["services"], "redis": {"restart_policy": 1}}}
    assert list(validator.iter_errors(broken))


def test_every_dependency_is_a_service_started_with_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
            # A dependency in a profile would not start without it.
            assert set(services[needed].get("profiles", [])) <= set(service.get("profiles", [])), (
                f"{name} needs {needed}, which only some profiles start"
            )


def test_vllm_and_the_simulator_stand_in_for_each_other(compose: dict[str, Any]) -> None:
    services = compose["services"]
    vllm, simulator = services["vllm"], services["simulator"]
    assert vllm["profiles"] == ["gpu"]
    assert simulator["profiles"] == ["cpu"]
    assert "vllm" in simulator["networks"]["default"]["aliases"]
    assert services["gateway"]["environment"]["LLM_BASE_URL"] == "http://vllm:8000/v1"
    gpu = vllm["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia"
    assert "gpu" in gpu["capabilities"]
    flags = " ".join(vllm["command"])
    for flag in ("--max-model-len", "--gpu-memory-utilization", "--max-num-seqs", "--model"):
        assert flag in flags
    assert any("huggingface" in volume for volume in vllm["volumes"])


def test_the_gateway_uses_the_stacks_database_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway = services["gateway"]
    assert gateway["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in gateway["environment"]["DATABASE_URL"]
    assert gateway["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    for stateful in ("postgres", "redis"):
        assert "healthcheck" in services[stateful]
    assert any("/var/lib/postgresql/data" in v for v in services["postgres"]["volumes"])


def _labels(service: dict[str, Any]) -> dict[str, str]:
    return dict(label.split("=", 1) for label in service["deploy"]["labels"])


def test_the_swarm_stack_runs_pushed_images_behind_traefik_with_tls(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert not any("build" in service for service in services.values())
    assert services["gateway"]["deploy"]["replicas"] >= 2
    traefik = " ".join(services["traefik"]["command"])
    assert "--providers.swarm.exposedbydefault=false" in traefik
    assert "redirections.entrypoint.scheme=https" in traefik
    assert "acme.storage=/letsencrypt/acme.json" in traefik
    public = stack["networks"]["public"]["name"]
    assert f"--providers.swarm.network={public}" in traefik
    for name, port in (("gateway", "8001"), ("ui", "8501")):
        labels = _labels(services[name])
        router = next(k.split(".")[3] for k in labels if k.startswith("traefik.http.routers."))
        assert labels["traefik.enable"] == "true"
        assert labels[f"traefik.http.routers.{router}.entrypoints"] == "websecure"
        assert labels[f"traefik.http.routers.{router}.tls.certresolver"] == "letsencrypt"
        assert labels[f"traefik.http.services.{router}.loadbalancer.server.port"] == port
        assert "public" in services[name]["networks"]
    api = _labels(services["gateway"])
    assert "!PathPrefix(`/metrics`)" in api["traefik.http.routers.tt-api.rule"]
    assert api["traefik.http.services.tt-api.loadbalancer.healthcheck.path"] == "/health/ready"
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["generic_resources"][0]
    assert gpu["discrete_resource_spec"]["kind"] == "NVIDIA-GPU"
    for stateful in ("postgres", "redis", "vllm"):
        assert services[stateful]["networks"] == ["internal"]


def test_grafana_is_provisioned_with_both_datasources_and_the_dashboard(
    compose: dict[str, Any],
) -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/datasources.yml").read_text())
    uids = {d["uid"]: d["type"] for d in datasources["datasources"]}
    assert uids == {"prometheus": "prometheus", "loki": "loki"}
    dashboard = json.loads((GRAFANA / "dashboards/thinkingthoughts.json").read_text())
    used = {p["datasource"]["uid"] for p in dashboard["panels"]}
    assert used == set(uids)
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/dashboards.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_observability_profile_scrapes_the_gateway(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana", "loki", "alloy"):
        assert services[name]["profiles"] == ["observability"]
    assert services["gateway"]["environment"]["TT_LOG_FORMAT"] == "json"
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["thinkingthoughts-gateway"] == ["gateway:8001"]
    assert targets["vllm"] == ["vllm:8000"]


def _stages(dockerfile: str) -> dict[str, str]:
    """Each named stage's instructions, by name."""
    parts = re.split(r"^FROM\s+", dockerfile, flags=re.MULTILINE)[1:]
    stages = {}
    for part in parts:
        header, _, body = part.partition("\n")
        name = header.split(" AS ")[-1].strip() if " AS " in header else header.strip()
        stages[name] = body
    return stages


@pytest.mark.parametrize(("stage", "port"), [("gateway", "8001"), ("ui", "8501")])
def test_each_image_is_small_non_root_and_health_checked(stage: str, port: str) -> None:
    stages = _stages(DOCKERFILE.read_text())
    body = stages[stage]
    user = re.search(r"^USER\s+(\S+)", body, flags=re.MULTILINE)
    assert user is not None
    assert user.group(1) not in ("root", "0")
    assert "HEALTHCHECK" in body
    assert f"EXPOSE {port}" in body
    assert "COPY --from=" in body  # only the built virtualenv comes in
    assert not re.search(r"apt-get|pip install|gcc|build-essential", body)


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    build = _stages(DOCKERFILE.read_text())["build"]
    assert build.index("COPY pyproject.toml") < build.index("COPY src")
    assert build.index("pip install") < build.index("COPY src")


def test_the_compose_file_builds_the_images_it_runs(compose: dict[str, Any]) -> None:
    targets = set(_stages(DOCKERFILE.read_text()))
    for name in ("gateway", "simulator", "ui"):
        build = compose["services"][name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE.resolve()
        assert build["target"] in targets


def test_the_ci_workflow_lints_tests_on_real_services_and_builds_both_images() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert any("make lint" in step.get("run", "") for step in jobs["lint"]["steps"])
    test = jobs["test"]
    assert any("make test" in step.get("run", "") for step in test["steps"])
    assert {"postgres", "redis"} <= set(test["services"])
    assert test["env"]["TT_TEST_DATABASE_URL"].startswith("postgresql://")
    assert test["env"]["TT_TEST_REDIS_URL"].startswith("redis://")
    build = next(s for s in jobs["images"]["steps"] if "build-push-action" in s.get("uses", ""))
    assert (ROOT / build["with"]["file"]).resolve() == DOCKERFILE.resolve()
    targets = set(_stages(DOCKERFILE.read_text()))
    assert set(jobs["images"]["strategy"]["matrix"]["target"]) <= targets


def test_the_ui_image_runs_under_an_init_process_that_passes_signals_on() -> None:
    stages = _stages(DOCKERFILE.read_text())
    ui = stages["ui"]
    copied = re.search(r"^COPY --from=(\S+) (\S*tini\S*) /usr/bin/tini$", ui, flags=re.MULTILINE)
    assert copied is not None
    installer = stages[copied.group(1)]
    assert "apt-get install" in installer
    assert "tini" in installer
    assert re.search(r'^ENTRYPOINT \["/usr/bin/tini", "--"\]$', ui, flags=re.MULTILINE)
    assert re.search(r'^CMD \["thinkingthoughts", "ui"', ui, flags=re.MULTILINE)  # exec form
