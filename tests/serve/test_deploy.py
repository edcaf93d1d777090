"""The deployment files in deploy/: valid for their platforms and consistent with
``voiceagent serve`` (the arguments parse, the drain fits in the termination grace
period, the probes point at the app's probe routes, scaling stays under capacity).

Kubernetes objects are checked against the Kubernetes schemas by kubernetes-validate
(offline: it ships them), the KEDA ScaledObject against a schema of its documented
fields; Container Apps and the Dockerfile, which have no offline schema, by parsing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from voiceagent.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PRESTOP_AND_MARGIN_S = 5


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def serve_args(args: list[str]) -> Any:
    """The arguments as ``voiceagent serve`` parses them (exit 2 on a bad one)."""
    return _parser().parse_args(["serve", *args])


def kind(path: Path, name: str) -> dict[str, Any]:
    return next(doc for doc in documents(path) if doc["kind"] == name)


@pytest.mark.parametrize("doc", documents(DEPLOY / "kubernetes" / "deployment.yaml"))
def test_kubernetes_objects_are_valid(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_keda_scaled_object_is_valid_and_scales_under_capacity() -> None:
    schema = json.loads(
        (Path(__file__).parent / "schemas" / "keda-scaledobject.schema.json").read_text()
    )
    scaled = kind(DEPLOY / "kubernetes" / "keda-scaledobject.yaml", "ScaledObject")
    jsonschema.validate(scaled, schema)
    deployment = kind(DEPLOY / "kubernetes" / "deployment.yaml", "Deployment")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    assert "voiceagent_active_sessions" in trigger["metadata"]["query"]
    args = serve_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert 0 < float(trigger["metadata"]["threshold"]) < args.max_sessions


def test_kubernetes_termination_waits_for_the_drain() -> None:
    deployment = kind(DEPLOY / "kubernetes" / "deployment.yaml", "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = serve_args(container["args"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + args.drain_timeout + args.stop_timeout
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert args.port == port
    assert args.host == "0.0.0.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == port
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_container_apps_file_is_consistent() -> None:
    (app,) = documents(DEPLOY / "container-apps" / "containerapp.yaml")
    template = app["properties"]["template"]
    (container,) = template["containers"]
    args = serve_args(container["args"])
    assert template["terminationGracePeriodSeconds"] >= args.drain_timeout + args.stop_timeout
    assert app["properties"]["configuration"]["ingress"]["targetPort"] == args.port
    probes = {p["type"]: p["httpGet"] for p in container["probes"]}
    assert probes["Readiness"] == {"path": "/readyz", "port": args.port}
    assert probes["Liveness"] == {"path": "/healthz", "port": args.port}
    (rule,) = template["scale"]["rules"]
    assert 0 < int(rule["http"]["metadata"]["concurrentRequests"]) < args.max_sessions
    secrets = {s["name"] for s in app["properties"]["configuration"]["secrets"]}
    refs = {e["secretRef"] for e in container["env"] if "secretRef" in e}
    assert refs <= secrets


def test_dockerfile_runs_voiceagent_serve_as_pid_1() -> None:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instructions = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in lines}
    assert json.loads(instructions["ENTRYPOINT"]) == ["voiceagent", "serve"]  # exec form
    args = serve_args(json.loads(instructions["CMD"]))
    assert int(instructions["EXPOSE"]) == args.port
    assert args.host == "0.0.0.0"
    assert instructions["STOPSIGNAL"] == "SIGTERM"
    assert '"voiceagent[serve]"' in instructions["RUN"]
