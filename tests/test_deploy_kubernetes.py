"""The course on zero-to-jupyterhub (deploy/kubernetes) holds together, checked without a cluster.

- The Kubernetes manifests, and the Kubernetes objects inside the chart values, validate
  strictly against the JSON schemas of Kubernetes 1.36 that ``kubernetes-validate`` ships.
  Those schemas check structure only, so the API server's rules the Job relies on are
  asserted here too.
- Helm cannot render the charts offline and neither chart's values schema comes in a
  registry package, so the values are checked against the keys the charts document, listed
  below by hand from the jupyterhub chart 4.4.0's ``values.schema.yaml`` (typed where it
  types them) and the ngshare chart 0.6.0's ``values.yaml``.
- The Dockerfile installs what the grader's sandbox needs and the pinned environment.

The main checks are also shown to reject a broken copy (a wrong key, type or field).
"""

import copy
import re
import shlex
import subprocess
import sys
import types
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest
import yaml
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
KUBE = ROOT / "deploy" / "kubernetes"
KUBERNETES = "1.36.0"  # user namespaces and procMount: Unmasked are stable from 1.36
Z2JH_CHART = "4.4.0"
Z2JH_JUPYTERHUB = "5.5.0"  # the hub that chart runs (its Chart.yaml's appVersion)
NGSHARE_CHART = "0.6.0"
NGSHARE_RELEASE = "ngshare"  # the Helm release name the README installs ngshare as
MANIFESTS = ("course.yaml", "grading.yaml", "autograde-job.yaml")


def documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((KUBE / name).read_text()) if doc]


def manifest(kind: str) -> dict:
    (found,) = [doc for name in MANIFESTS for doc in documents(name) if doc["kind"] == kind]
    return found


def z2jh() -> dict:
    return yaml.safe_load((KUBE / "z2jh-values.yaml").read_text())


def ngshare() -> dict:
    return yaml.safe_load((KUBE / "ngshare-values.yaml").read_text())


def validate(resource: dict) -> None:
    kubernetes_validate.validate(resource, KUBERNETES, strict=True)


# --- Kubernetes manifests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [doc for name in MANIFESTS for doc in documents(name)],
    ids=lambda doc: (
        f"{doc['kind']}/{doc['metadata'].get('name', doc['metadata'].get('generateName'))}"
    ),
)
def test_manifests_validate_against_the_kubernetes_schemas(resource):
    validate(resource)


def _container_security(job):
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["procMnt"] = "Unmasked"


def _host_users_as_text(job):
    job["spec"]["template"]["spec"]["hostUsers"] = "false"


def _nameless_container(job):
    del job["spec"]["template"]["spec"]["containers"][0]["name"]


def _volume_mount_typo(job):
    job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountpath"] = "/srv"


@pytest.mark.parametrize(
    "breakage", [_container_security, _host_users_as_text, _nameless_container, _volume_mount_typo]
)
def test_a_broken_copy_of_the_job_is_rejected(breakage):
    job = copy.deepcopy(manifest("Job"))
    breakage(job)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(job)


def test_the_job_grades_as_the_sandbox_needs_and_as_an_ordinary_user():
    pod = manifest("Job")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security, own = pod["securityContext"], container["securityContext"]
    # bubblewrap's unprivileged user namespace, its mounts and its fresh /proc
    assert security["seccompProfile"]["type"] in {"Unconfined", "Localhost"}
    assert security["appArmorProfile"]["type"] in {"Unconfined", "Localhost"}
    assert own["procMount"] == "Unmasked"
    # the API server accepts an unmasked /proc only in a user-namespaced pod
    assert pod["hostUsers"] is False
    # never root, never more privilege than it starts with, nothing to steal
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] > 0
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"]
    assert "add" not in own["capabilities"]
    assert "privileged" not in own
    assert own["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    assert pod["restartPolicy"] == "Never"


def test_the_job_reads_the_course_volume_and_the_grading_script():
    pod = manifest("Job")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    env = {variable["name"]: variable for variable in container["env"]}
    config_map = manifest("ConfigMap")

    assert (
        volumes["course"]["persistentVolumeClaim"]["claimName"]
        == (manifest("PersistentVolumeClaim")["metadata"]["name"])
    )
    assert mounts["course"] == env["COURSE"]["value"] == container["workingDir"]
    assert volumes["script"]["configMap"]["name"] == config_map["metadata"]["name"]
    script = f"{mounts['script']}/{volumes['script']['configMap']['items'][0]['path']}"
    assert container["command"] == ["/bin/sh", script]
    assert env["ASSIGNMENT"]["valueFrom"]["configMapKeyRef"] == {
        "name": config_map["metadata"]["name"],
        "key": "ASSIGNMENT",
    }
    # the read-only root leaves writable only the volumes: HOME and /tmp among them
    assert mounts["home"] == env["HOME"]["value"] and mounts["tmp"] == "/tmp"
    # the servers' image, so the grader runs the environment students work in
    image = z2jh()["singleuser"]["image"]
    assert container["image"] == f"{image['name']}:{image['tag']}"


def test_the_job_runs_as_the_image_and_the_servers_user():
    security = manifest("Job")["spec"]["template"]["spec"]["securityContext"]
    singleuser = z2jh()["singleuser"]
    uid, gid = dockerfile_user()
    assert security["runAsUser"] == singleuser["uid"] == uid
    assert security["fsGroup"] == security["runAsGroup"] == singleuser["fsGid"] == gid


def test_the_job_grades_the_makefiles_assignment():
    assignment = re.search(r"^ASSIGNMENT := (\S+)$", (ROOT / "Makefile").read_text(), re.M)[1]
    assert manifest("ConfigMap")["data"]["ASSIGNMENT"] == assignment
    assert (ROOT / "solutions" / assignment).is_dir()


def test_the_grading_script_is_valid_sh_and_grades_then_reports():
    script = manifest("ConfigMap")["data"]["autograde.sh"]
    checked = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    commands = [line.strip() for line in script.splitlines()]
    assert "set -eu" in commands
    grading = commands.index('nbgrader autograde "$ASSIGNMENT"')
    assert commands.index('nbgrader generate_feedback "$ASSIGNMENT"') > grading
    assert commands.index('python -m losslandscape.grading.report "$ASSIGNMENT" --course .') > (
        grading
    )


def test_the_network_policy_cuts_off_the_grading_pod():
    policy = manifest("NetworkPolicy")["spec"]
    labels = manifest("Job")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert not policy.get("ingress") and not policy.get("egress")


# --- the charts' values ------------------------------------------------------------------

ANY = "any"  # the chart passes the value on unchecked (a Kubernetes object, a pass-through)
NULL = type(None)
NUMBER = (int, float)

# From the jupyterhub chart 4.4.0's values.schema.yaml: the sections these values use, with
# every key the schema documents there (additionalProperties: false), typed where it types
# the keys set here. "*" stands for any key where the schema allows any.
_NETWORK_POLICY = {
    "enabled": bool,
    "ingress": list,
    "egress": list,
    "egressAllowRules": dict.fromkeys(
        (
            "cloudMetadataServer",
            "dnsPortsCloudMetadataServer",
            "dnsPortsKubeSystemNamespace",
            "dnsPortsPrivateIPs",
            "nonPrivateIPs",
            "privateIPs",
        ),
        bool,
    ),
    "interNamespaceAccessLabels": str,
    "allowedIngressPorts": list,
}
_EXTRA_FILES = {
    "*": {"mountPath": str, "data": dict, "stringData": str, "binaryData": str, "mode": NUMBER}
}
Z2JH_KEYS = {
    "hub": {
        # hub.config hands every class (a capitalised name) to JupyterHub as traitlets
        # config: these are the traits set here, as JupyterHub 5.5 defines them.
        "config": {
            "JupyterHub": {"admin_access": bool, "authenticator_class": str, "load_groups": dict},
            "Authenticator": {"admin_users": list, "allowed_users": list, "allow_all": bool},
        },
        # hub.services.<name>: the chart's documented keys and JupyterHub 5.5's Service
        # traits, which the chart passes on
        "services": {
            "*": {
                "name": str,
                "admin": bool,
                "command": (str, list),
                "url": str,
                "api_token": (str, NULL),
                "apiToken": (str, NULL),
                "oauth_no_confirm": bool,
                "oauth_client_allowed_scopes": list,
                "display": bool,
                "info": dict,
            }
        },
        "loadRoles": {"*": ANY},
        "extraConfig": {"*": str},
        "extraFiles": _EXTRA_FILES,
        "extraEnv": ANY,
        "networkPolicy": _NETWORK_POLICY,
        "resources": ANY,
    },
    "singleuser": {
        "podNameTemplate": ANY,
        "extraTolerations": ANY,
        "nodeSelector": ANY,
        "extraNodeAffinity": ANY,
        "extraPodAffinity": ANY,
        "extraPodAntiAffinity": ANY,
        "networkTools": ANY,
        "cloudMetadata": ANY,
        "networkPolicy": _NETWORK_POLICY,
        "events": (bool, NULL),
        "extraAnnotations": ANY,
        "extraLabels": ANY,
        "extraFiles": _EXTRA_FILES,
        "extraEnv": ANY,
        "lifecycleHooks": ANY,
        "initContainers": list,
        "extraContainers": list,
        "allowPrivilegeEscalation": (bool, NULL),
        "uid": (int, NULL),
        "fsGid": (int, NULL),
        "serviceAccountName": ANY,
        "storage": {
            "type": str,
            "extraLabels": ANY,
            "extraVolumes": (dict, list, NULL),
            "extraVolumeMounts": (dict, list, NULL),
            "static": {"pvcName": ANY, "subPath": ANY},
            "capacity": (str, NULL),
            "homeMountPath": str,
            "dynamic": {
                "storageClass": ANY,
                "pvcNameTemplate": ANY,
                "volumeNameTemplate": ANY,
                "storageAccessModes": list,
                "subPath": ANY,
            },
        },
        "image": {"name": str, "tag": str, "pullPolicy": (str, NULL), "pullSecrets": list},
        "startTimeout": ANY,
        "cpu": {"limit": (*NUMBER, NULL), "guarantee": (*NUMBER, NULL)},
        "memory": {"limit": (*NUMBER, str, NULL), "guarantee": (*NUMBER, str, NULL)},
        "extraResource": ANY,
        "cmd": (list, str, NULL),
        "defaultUrl": (str, NULL),
        "extraPodConfig": ANY,
        "profileList": list,
    },
}
# From the ngshare chart 0.6.0's values.yaml (the chart has no values schema).
NGSHARE_KEYS = {
    "nameOverride": str,
    "fullnameOverride": str,
    "image": {"repository": str, "pullPolicy": str, "imagePullSecrets": list, "tag": str},
    "deployment": {
        "replicaCount": int,
        "strategy": ANY,
        "port": int,
        "fsGroup": int,
        "resources": ANY,
        "selectorLabels": list,
        "nodeSelector": ANY,
        "tolerations": list,
        "affinity": ANY,
        "initContainers": list,
    },
    "ngshare": {
        "admins": list,
        "hub_api_url": str,
        "hub_base_url": str,
        "hub_api_token": str,
        "debug": bool,
        "upgrade_db": bool,
        "oauth_client_id": str,
        "env": dict,
        "args": list,
    },
    "pvc": {
        "storage": str,
        "annotations": dict,
        "selector": dict,
        "storageClassName": str,
        "accessModes": list,
    },
}


def undocumented(values, documented, path="") -> list[str]:
    """Every key of ``values`` that ``documented`` lacks, or whose value has the wrong type."""
    if documented == ANY:
        return []
    if not isinstance(documented, dict):
        return [] if isinstance(values, documented) else [f"{path}: {values!r} is no {documented}"]
    if not isinstance(values, dict):
        return [f"{path}: {values!r} is no mapping"]
    problems = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key in documented:
            problems += undocumented(value, documented[key], where)
        elif "*" in documented:
            problems += undocumented(value, documented["*"], where)
        else:
            problems.append(f"{where} is not a key the chart documents")
    return problems


def test_the_z2jh_values_use_only_keys_the_chart_documents():
    assert undocumented(z2jh(), Z2JH_KEYS) == []


def test_the_ngshare_values_use_only_keys_the_chart_documents():
    assert undocumented(ngshare(), NGSHARE_KEYS) == []


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        (("singleuser", "memory"), "limits", "2G"),  # the chart's key is limit
        (("singleuser",), "storageCapacity", "1Gi"),
        (("hub", "services", "ngshare"), "apiTokens", "x"),
        (("singleuser", "cpu"), "limit", "2"),  # a number in the chart's schema
    ],
)
def test_a_wrong_z2jh_key_or_type_is_rejected(section, key, value):
    values = z2jh()
    target = values
    for part in section:
        target = target[part]
    target[key] = value
    assert undocumented(values, Z2JH_KEYS)


def test_a_wrong_ngshare_key_is_rejected():
    values = ngshare()
    values["ngshare"]["admin"] = ["instructor"]  # the chart's key is admins
    assert undocumented(values, NGSHARE_KEYS) == ["ngshare.admin is not a key the chart documents"]


def test_kubernetes_objects_inside_the_values_validate():
    egress = z2jh()["singleuser"]["networkPolicy"]["egress"]
    validate(network_policy(egress))
    resources = ngshare()["deployment"]["resources"]
    validate(pod_with_resources(resources))
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(network_policy([{"to": [{"podSelektor": {}}]}]))
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(pod_with_resources({"limit": {"cpu": "1"}}))


def network_policy(egress: list) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "singleuser"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
    }


def pod_with_resources(resources: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ngshare"},
        "spec": {"containers": [{"name": "ngshare", "image": "ngshare", "resources": resources}]},
    }


def ngshare_service() -> tuple[str, int, dict]:
    """ngshare's service name, port and pod labels, as the chart derives them."""
    values = ngshare()
    # The chart names it after the release, or the release alone when it holds "ngshare".
    name = NGSHARE_RELEASE if "ngshare" in NGSHARE_RELEASE else f"{NGSHARE_RELEASE}-ngshare"
    port = values.get("deployment", {}).get("port", 8080)
    labels = {"app.kubernetes.io/name": "ngshare", "app.kubernetes.io/instance": NGSHARE_RELEASE}
    return name, port, labels


def test_the_servers_reach_ngshare_where_the_hub_registers_it():
    name, port, labels = ngshare_service()
    values = z2jh()
    assert values["hub"]["services"]["ngshare"]["url"] == f"http://{name}:{port}"
    (rule,) = values["singleuser"]["networkPolicy"]["egress"]
    (peer,) = rule["to"]
    assert peer["podSelector"]["matchLabels"].items() <= labels.items()
    assert [p["port"] for p in rule["ports"]] == [port]
    url, course_id = exchange_configuration()
    assert url == f"http://{name}:{port}/services/ngshare"
    assert course_id == "*"
    # the token is shared by --set at install, never written into the values
    assert "apiToken" not in values["hub"]["services"]["ngshare"]
    assert "hub_api_token" not in ngshare().get("ngshare", {})


def exchange_configuration() -> tuple[str, str]:
    """Run the servers' nbgrader_config.py with a stand-in ngshare_exchange."""
    called = []
    stand_in = types.ModuleType("ngshare_exchange")
    stand_in.configureExchange = lambda config, url: called.append(url)
    source = z2jh()["singleuser"]["extraFiles"]["nbgrader-exchange"]["stringData"]
    config = Config()
    saved = sys.modules.get("ngshare_exchange")
    sys.modules["ngshare_exchange"] = stand_in
    try:
        exec(compile(source, "nbgrader_config.py", "exec"), {"get_config": lambda: config})
    finally:
        if saved is None:
            del sys.modules["ngshare_exchange"]
        else:
            sys.modules["ngshare_exchange"] = saved
    (url,) = called
    return url, config.CourseDirectory.course_id


def test_the_nbgrader_configuration_goes_where_nbgrader_reads_it():
    extra = z2jh()["singleuser"]["extraFiles"]["nbgrader-exchange"]
    assert extra["mountPath"] == "/etc/jupyter/nbgrader_config.py"


class _Model:
    """Stands in for kubernetes_asyncio's models: keyword arguments become attributes."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def course_volume_hook():
    """The hub's pod hook, run with stand-ins for kubernetes_asyncio and the config."""
    models = types.ModuleType("kubernetes_asyncio.client.models")
    for name in ("V1PersistentVolumeClaimVolumeSource", "V1Volume", "V1VolumeMount"):
        setattr(models, name, type(name, (_Model,), {}))
    config = Config()
    stand_ins = {
        "kubernetes_asyncio": types.ModuleType("kubernetes_asyncio"),
        "kubernetes_asyncio.client": types.ModuleType("kubernetes_asyncio.client"),
        "kubernetes_asyncio.client.models": models,
    }
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        source = z2jh()["hub"]["extraConfig"]["course-volume.py"]
        exec(compile(source, "course-volume.py", "exec"), {"c": config})
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module
    return config.KubeSpawner.modify_pod_hook


def spawn(hook, groups: list[str]):
    home = _Model(name="home", mount_path="/home/jovyan")
    notebook = _Model(name="notebook", volume_mounts=[home])
    pod = _Model(spec=_Model(volumes=[_Model(name="home")], containers=[notebook]))
    user = _Model(groups=[_Model(name=group) for group in groups])
    return hook(_Model(user=user), pod)


def test_only_instructors_servers_mount_the_course_volume():
    hook = course_volume_hook()
    claim = manifest("PersistentVolumeClaim")["metadata"]["name"]
    instructors = z2jh()["hub"]["config"]["JupyterHub"]["load_groups"]["instructors"]["users"]
    assert instructors and set(instructors) <= set(ngshare()["ngshare"]["admins"])

    instructor = spawn(hook, ["instructors"])
    volumes = {volume.name: volume for volume in instructor.spec.volumes}
    assert volumes["course"].persistent_volume_claim.claim_name == claim
    mounts = {mount.name: mount.mount_path for mount in instructor.spec.containers[0].volume_mounts}
    assert mounts == {"home": "/home/jovyan", "course": "/home/jovyan/course"}

    student = spawn(hook, ["students"])
    assert [volume.name for volume in student.spec.volumes] == ["home"]
    assert [mount.name for mount in student.spec.containers[0].volume_mounts] == ["home"]


def test_the_chart_versions_agree_everywhere():
    readme = (KUBE / "README.md").read_text()
    assert f"jupyterhub/jupyterhub --version {Z2JH_CHART}" in readme
    assert f"ngshare/ngshare --version {NGSHARE_CHART}" in readme
    assert (
        f"chart {Z2JH_CHART} (JupyterHub {Z2JH_JUPYTERHUB})"
        in (KUBE / "z2jh-values.yaml").read_text()
    )
    assert f"--version {Z2JH_CHART}" in (KUBE / "z2jh-values.yaml").read_text()
    assert f"ngshare chart {NGSHARE_CHART}" in (KUBE / "ngshare-values.yaml").read_text()
    assert f"--version {NGSHARE_CHART}" in (KUBE / "ngshare-values.yaml").read_text()


def test_the_sizing_gives_both_formulas_and_the_jobs_own_deadline():
    sizing = (KUBE / "README.md").read_text().split("## Sizing\n", 1)[1].split("\n## ", 1)[0]
    for students in ("300", "3000"):
        assert f"⌈{students} / (*r* · *W*)⌉" in sizing
    deadline = manifest("Job")["spec"]["activeDeadlineSeconds"]
    assert f"`activeDeadlineSeconds` ({deadline // 3600} hours)" in sizing


# --- the image ---------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    instructions, pending = [], ""
    for line in (KUBE / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


def commands(instruction: str) -> list[list[str]]:
    """Every simple command of every RUN, split on && and ;."""
    found = []
    for keyword, arguments in dockerfile():
        if keyword == instruction:
            for command in re.split(r"&&|;", arguments):
                words = shlex.split(command)
                while words and re.match(r"[A-Z_]+=", words[0]):  # VAR=value before a command
                    words.pop(0)
                found.append(words)
    return found


def pip_installs() -> list[list[str]]:
    return [command[2:] for command in commands("RUN") if command[:2] == ["pip", "install"]]


def apt_packages() -> set[str]:
    (install,) = [c for c in commands("RUN") if c[:2] == ["apt-get", "install"]]
    return {word for word in install[2:] if not word.startswith("-")}


def makefile_system_packages() -> set[str]:
    """The Debian packages the Makefile's ``system`` target installs."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nsystem:", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r'missing="\$\$missing ([\w.+-]+)"', recipe))


# The image serves and grades; it runs no test suite (Chromium, and Node for the book's twin).
NOT_IN_THE_IMAGE = {"chromium", "nodejs", "npm"}


def dockerfile_user() -> tuple[int, int]:
    (useradd,) = [c for c in commands("RUN") if c[:1] == ["useradd"]]
    uid = int(useradd[useradd.index("--uid") + 1])
    gid = int(useradd[useradd.index("--gid") + 1])
    (user,) = [arguments for keyword, arguments in dockerfile() if keyword == "USER"]
    assert int(user) == uid, "USER must name the uid, so that runAsNonRoot can check it"
    return uid, gid


def test_the_image_has_what_the_sandbox_and_the_environment_need():
    needed = makefile_system_packages()
    assert {"bubblewrap", "util-linux", "libseccomp2", "python3-venv"} <= needed
    assert needed - NOT_IN_THE_IMAGE <= apt_packages()


def test_the_image_is_debian_12_as_the_courses_servers():
    (base,) = [arguments for keyword, arguments in dockerfile() if keyword == "ARG"]
    (source,) = [arguments for keyword, arguments in dockerfile() if keyword == "FROM"]
    assert source == "${BASE}" and base.startswith("BASE=debian:bookworm")


def test_the_image_installs_the_pins_then_the_hubs_jupyterhub_then_the_library():
    installs = pip_installs()
    course = next(
        i for i, args in enumerate(installs) if "/tmp/losslandscape/requirements.txt" in args
    )
    image = next(
        i for i, args in enumerate(installs) if "/tmp/losslandscape/requirements-image.txt" in args
    )
    library = next(i for i, args in enumerate(installs) if args[-1] == ".")
    assert course < image < library
    assert "--no-deps" in installs[library]
    for args in installs:  # every package named outright is pinned, pip itself aside
        files = {args[i + 1] for i, arg in enumerate(args) if arg == "-r"}
        named = [arg for arg in args if not arg.startswith("-") and arg not in files]
        assert all("==" in arg or arg in {".", "pip"} for arg in named), args
    copied = {
        source: arguments.split()[-1]
        for keyword, arguments in dockerfile()
        if keyword == "COPY"
        for source in arguments.split()[:-1]
    }
    assert copied["requirements.txt"] == copied["deploy/kubernetes/requirements-image.txt"]
    assert copied["requirements.txt"] == "/tmp/losslandscape/"
    assert ("WORKDIR", "/tmp/losslandscape/src") in dockerfile()
    assert copied["pyproject.toml"] == copied["src"].rsplit("/", 1)[0] + "/"


def test_ngshare_exchange_goes_in_pinned_and_without_its_stale_dependencies():
    (install,) = [args for args in pip_installs() if any("ngshare" in a for a in args)]
    assert "--no-deps" in install
    assert "ngshare-exchange==0.5.3" in install
    imported = {"nbgrader", "traitlets", "rapidfuzz", "requests", "jupyter-core"}
    assert imported <= set(pins(ROOT / "requirements.txt"))


def dockerignored(path: str) -> bool:
    """Whether Dockerfile.dockerignore keeps ``path`` (relative to the root) from the build."""
    ignored = False
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in (KUBE / "Dockerfile.dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            matches = any(fnmatch(part, pattern[3:]) for part in parts)
        else:
            matches = any(fnmatch(candidate, pattern) for candidate in candidates)
        if matches:
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_is_copied_and_no_solutions():
    for keyword, arguments in dockerfile():
        if keyword == "COPY":
            for source in arguments.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not dockerignored(source), f"{source} is copied but ignored"
    assert not dockerignored("src/losslandscape/data/mnist-subset.npz")
    assert not dockerignored("src/losslandscape/grading/nbgrader_templates")
    for secret in ("solutions/optimizers/optimizers.ipynb", "gradebook.db", ".venv/bin/python"):
        assert dockerignored(secret), f"{secret} would reach the image"
    assert dockerignored("src/losslandscape/__pycache__/data.cpython-311.pyc")


# --- the image's requirements ------------------------------------------------------------


def pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file, names normalised as pip does."""
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_the_images_requirements_are_pinned_exactly_and_sorted():
    lines = [
        line
        for line in (KUBE / "requirements-image.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.+!-]*", line) for line in lines)
    assert lines == sorted(lines, key=str.upper)


def test_the_images_jupyterhub_is_the_hubs_and_replaces_only_itself():
    image, course = pins(KUBE / "requirements-image.txt"), pins(ROOT / "requirements.txt")
    hub = Z2JH_JUPYTERHUB.split(".")[:2]
    assert image["jupyterhub"].split(".")[:2] == hub, "jupyterhub-singleuser must be the hub's 5.5"
    shared = (image.keys() & course.keys()) - {"jupyterhub"}
    assert {name: image[name] for name in shared} == {name: course[name] for name in shared}


def test_the_images_environment_resolves(tmp_path):
    # What the image ends with: requirements.txt, its jupyterhub replaced by the image's.
    course = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if not re.match(r"jupyterhub==", line, re.I)
    ]
    (tmp_path / "course.txt").write_text("\n".join(course) + "\n")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"),
            *("--quiet", "--only-binary=:all:", "--python-version", "3.11.2"),
            *("--target", str(tmp_path / "target"), "-r", str(tmp_path / "course.txt")),
            *("-r", str(KUBE / "requirements-image.txt")),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 0, errors
