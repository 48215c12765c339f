"""Template overrides: search path, blocks, sandbox, errors naming the override, versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from k8sq_render import _resources, _schema, _templates, errors, render
from k8sq_render._cli import main

from ..conftest import EXAMPLES

MINIMAL = EXAMPLES / "minimal.yaml"


def override(root: Path, body: str, version: str = "v1") -> Path:
    path = root / version / "job.yaml.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_first_directory_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    override(first, '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}  parallelism: 1\n{% endblock %}')
    override(second, '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}  parallelism: 2\n{% endblock %}')
    (job,) = render(MINIMAL, template_dirs=[first, second])
    assert job.obj["spec"]["parallelism"] == 1
    (job,) = render(MINIMAL, template_dirs=[second, first])
    assert job.obj["spec"]["parallelism"] == 2


def test_one_block_replaced_the_rest_unchanged(tmp_path: Path) -> None:
    override(
        tmp_path,
        '{% extends "builtin/v1/job.yaml.j2" %}\n'
        "{% block pod_spec_extra %}\n      hostNetwork: false\n{% endblock %}\n",
    )
    (plain,) = render(MINIMAL)
    (custom,) = render(MINIMAL, template_dirs=[tmp_path])
    pod = custom.obj["spec"]["template"]["spec"]
    assert pod.pop("hostNetwork") is False
    assert custom.obj == plain.obj


def test_super_keeps_the_packaged_block(tmp_path: Path) -> None:
    override(
        tmp_path,
        '{% extends "builtin/v1/job.yaml.j2" %}\n{% block worker_env %}\n{{ super() }}'
        "          workingDir: /work\n{% endblock %}\n",
    )
    (job,) = render(MINIMAL, template_dirs=[tmp_path])
    container = job.obj["spec"]["template"]["spec"]["containers"][0]
    assert container["workingDir"] == "/work"
    assert [e["name"] for e in container["env"]] == ["K8SQ_MESSAGE"]


def test_values_in_overrides_cannot_inject_structure(tmp_path: Path, values_file) -> None:
    override(
        tmp_path,
        '{% extends "builtin/v1/job.yaml.j2" %}\n{% block job_spec_extra %}\n'
        "  completions: 1\n{% endblock %}\n{% block pod_metadata %}\n{{ super() }}"
        '      annotations: {"note": {{ message.payload.note }}}\n{% endblock %}\n',
    )
    evil = 'x"}\n      labels: {"evil": "1'
    document = {"version": "v1", "queue": {"name": "q", "image": "i"}, "message": {"payload": {"note": evil}}}
    path = values_file(json.dumps(document), "values.json")
    (job,) = render(path, template_dirs=[tmp_path])
    assert job.obj["spec"]["template"]["metadata"]["annotations"] == {"note": evil}


@pytest.mark.parametrize("name", ["safe", "e", "escape", "forceescape", "tojson", "xmlattr", "urlize"])
def test_filters_that_emit_raw_text_are_not_available(tmp_path: Path, name: str) -> None:
    path = override(
        tmp_path,
        '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}'
        f"  x: {{{{ queue.name | {name} }}}}\n{{% endblock %}}",
    )
    with pytest.raises(errors.TemplateError) as caught:
        render(MINIMAL, template_dirs=[tmp_path])
    assert str(caught.value).startswith(str(path))
    assert f"No filter named '{name}'" in str(caught.value)


def test_whole_file_replacement(tmp_path: Path) -> None:
    packaged = _templates.packaged_source("v1")
    override(tmp_path, packaged.replace("restartPolicy: Never", "restartPolicy: OnFailure"))
    (job,) = render(MINIMAL, template_dirs=[tmp_path])
    assert job.obj["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_invalid_job_from_an_override_names_the_file_and_path(tmp_path: Path) -> None:
    path = override(
        tmp_path,
        '{% extends "builtin/v1/job.yaml.j2" %}{% block worker_extra %}'
        "          imagePullpolicy: Always\n{% endblock %}",
    )
    with pytest.raises(errors.ManifestError) as caught:
        render(MINIMAL, template_dirs=[tmp_path])
    assert caught.value.template == str(path)
    assert caught.value.path == "/spec/template/spec/containers/0/imagePullpolicy"
    assert caught.value.message.startswith("unknown key (allowed here: args, command, env,")


@pytest.mark.parametrize(
    ("block", "text", "path"),
    [
        (
            "job_metadata",
            "  name: other\n  namespace: {{ job.namespace }}\n  labels: {{ job.labels }}\n",
            "/metadata/name",
        ),
        ("worker_env", "          env: []\n", "/spec/template/spec/containers"),
        ("job_metadata", "  name: {{ job.name }}\n  namespace: {{ job.namespace }}\n", "/metadata/labels"),
    ],
)
def test_overrides_must_keep_what_queries_rely_on(tmp_path: Path, block: str, text: str, path: str) -> None:
    override(tmp_path, f'{{% extends "builtin/v1/job.yaml.j2" %}}{{% block {block} %}}\n{text}{{% endblock %}}')
    with pytest.raises(errors.ManifestError) as caught:
        render(MINIMAL, template_dirs=[tmp_path])
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ queue.__class__.__mro__ }}", "refused by the sandbox"),
        ("{{ lipsum.__globals__.os }}", "refused by the sandbox"),
        ("{{ ''.__class__.__subclasses__() }}", "refused by the sandbox"),
        ("{% set x = queue.update({'image': 'evil'}) %}", "refused by the sandbox"),
        ("{{ no_such_name }}", "UndefinedError: 'no_such_name' is undefined"),
        ("{{ queue.nope }}", "UndefinedError"),
        ("{% if %}", "Expected an expression"),
    ],
)
def test_broken_or_hostile_templates_fail_with_file_and_line(tmp_path: Path, body: str, expected: str) -> None:
    path = override(tmp_path, "apiVersion: batch/v1\n" + body + "\n")
    with pytest.raises(errors.TemplateError) as caught:
        render(MINIMAL, template_dirs=[tmp_path])
    assert str(caught.value).startswith(f"{path}:2: ")
    assert expected in str(caught.value)


def test_not_found_lists_every_directory(tmp_path: Path, values_file) -> None:
    path = values_file("version: v1\nqueue: {name: q, image: i}\nmessage: {}\n")
    monkey = tmp_path / "empty-templates"
    monkey.mkdir()
    (monkey / "v1").mkdir()
    with pytest.raises(errors.TemplateNotFoundError) as caught:
        _templates.SearchPathLoader([monkey]).get_source(_templates.environment(), "v1/missing.j2")
    assert caught.value.searched == (str(monkey.resolve()), str(_resources.data_dir("templates").resolve()))
    assert render(path, template_dirs=[monkey])  # the packaged template is still found


@pytest.mark.parametrize("name", ["../v1/job.yaml.j2", "v1/../../etc/passwd", "/etc/passwd", "v1//job.yaml.j2"])
def test_templates_cannot_name_files_outside_their_roots(tmp_path: Path, name: str) -> None:
    override(tmp_path, '{% include "' + name + '" %}')
    with pytest.raises(errors.TemplateNotFoundError):
        render(MINIMAL, template_dirs=[tmp_path])


def test_symlinks_out_of_the_root_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.j2"
    outside.write_text("secret: 1\n")
    root = tmp_path / "root"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / "job.yaml.j2").symlink_to(outside)
    with pytest.raises(errors.TemplateError, match="resolves outside its template root"):
        render(MINIMAL, template_dirs=[root])


def test_templates_list_and_show(capsys, tmp_path: Path) -> None:
    assert main(["templates", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("v1  ") and out[0].endswith("templates/v1/job.yaml.j2")
    assert out[1] == (
        "    blocks: job_metadata, job_spec_extra, pod_metadata, scheduling, pod_spec_extra, "
        "init_containers, containers, worker_container, worker_env, worker_extra, sidecars, volumes"
    )
    path = override(tmp_path, '{% extends "builtin/v1/job.yaml.j2" %}{% block mine %}{% endblock %}')
    assert main(["templates", "list", "--templates", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"v1  {path.resolve()}"
    assert out[1].endswith(", volumes, mine")
    assert main(["templates", "show", "v1"]) == 0
    assert capsys.readouterr().out == _templates.packaged_source("v1")
    assert main(["templates", "show", "v7"]) == 1


def test_a_new_version_cannot_change_v1_output(tmp_path: Path, monkeypatch) -> None:
    """Adding templates/v2 and schema/v2 leaves every v1 Job byte for byte the same."""
    before = [m.text for m in render(sorted(EXAMPLES.glob("*.yaml")))]
    for kind in ("templates", "schema"):
        copy = tmp_path / kind
        shutil.copytree(_resources.data_dir(kind), copy)
        shutil.copytree(copy / "v1", copy / "v2")
    (tmp_path / "templates" / "v2" / "job.yaml.j2").write_text(
        _templates.packaged_source("v1").replace("restartPolicy: Never", "restartPolicy: OnFailure")
    )
    schema = tmp_path / "schema" / "v2" / "values.schema.json"
    schema.write_text(schema.read_text().replace('"const": "v1"', '"const": "v2"'))
    monkeypatch.setattr(_resources, "data_dir", lambda kind: tmp_path / kind)
    _resources.versions.cache_clear()
    _templates.environment.cache_clear()
    _schema.values_schema.cache_clear()
    try:
        assert _resources.versions() == ("v1", "v2")
        assert [m.text for m in render(sorted(EXAMPLES.glob("*.yaml")))] == before
        v2 = tmp_path / "v2.yaml"
        v2.write_text(MINIMAL.read_text().replace("version: v1", "version: v2"))
        (job,) = render(v2)
        assert job.obj["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
        assert job.obj["metadata"]["labels"]["k8sq.io/template-version"] == "v2"
    finally:
        _resources.versions.cache_clear()
        _templates.environment.cache_clear()
        _schema.values_schema.cache_clear()


@pytest.mark.parametrize(
    "body",
    [
        "{% set x %}{{ message.payload.tag }}{% endset %}          args: [{{ x[1:-1] }}]\n",
        '{% set x %}{{ message.payload.tag }}{% endset %}          args: [{{ x | replace(\'"\', "") }}]\n',
        "{% set x = super() %}          args: [{{ x.strip() }}]\n",
        "          args: [{{ super()[1:-1] }}]\n",
        '{% if self.sidecars() == "" %}{% endif %}',
        "{% for c in super() %}{% endfor %}",
        "{% macro m(v) %}{{ v }}{% endmacro %}          args: [{{ m(message.payload.tag) | trim }}]\n",
        '{% filter replace(\'"\', "") %}          args: [{{ message.payload.tag }}]\n{% endfilter %}',
    ],
)
def test_rendered_text_cannot_be_taken_apart(tmp_path: Path, values_file, body: str) -> None:
    # Each of these would let the text of the value "a, b, c" become three YAML items.
    path = override(
        tmp_path, '{% extends "builtin/v1/job.yaml.j2" %}{% block worker_extra %}' + body + "{% endblock %}"
    )
    values = values_file('version: v1\nqueue: {name: q, image: i}\nmessage: {payload: {tag: "a, b, c"}}\n')
    with pytest.raises(errors.TemplateError) as caught:
        render(values, template_dirs=[tmp_path])
    assert str(caught.value).startswith(f"{path}:1: rendered template text")


def test_rendered_text_may_be_written_reindented_or_tested(tmp_path: Path) -> None:
    override(
        tmp_path,
        '{% extends "builtin/v1/job.yaml.j2" %}{% macro wd(v) %}workingDir: {{ v }}{% endmacro %}'
        "{% block worker_extra %}{% if not self.sidecars() %}{% set kept = super() %}{{ kept }}"
        "          {{ wd(message.id) | indent(2) }}\n{% endif %}{% endblock %}",
    )
    (job,) = render(MINIMAL, template_dirs=[tmp_path])
    assert job.obj["spec"]["template"]["spec"]["containers"][0]["workingDir"] == "welcome-42"


def test_a_missing_template_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(errors.TemplateNotFoundError, match=r"template directory .*nope.* not found"):
        render(MINIMAL, template_dirs=[tmp_path / "nope"])
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(errors.TemplateNotFoundError, match="not a directory"):
        render(MINIMAL, template_dirs=[a_file])


def test_a_template_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "v1" / "job.yaml.j2"
    path.parent.mkdir()
    path.write_bytes(b"apiVersion: \xff\xfe\n")
    with pytest.raises(errors.TemplateError, match=r"not UTF-8 text"):
        render(MINIMAL, template_dirs=[tmp_path])


@pytest.mark.parametrize(
    "body",
    ['{% extends "builtin/" ~ version ~ "/job.yaml.j2" %}', "{% include queue.name %}", "{% import version as m %}"],
)
def test_templates_named_by_an_expression_are_refused(tmp_path: Path, body: str) -> None:
    # Such a template could not be checked before rendering (see test_rendered_text_cannot_be_taken_apart).
    path = override(tmp_path, body)
    with pytest.raises(errors.TemplateError) as caught:
        render(MINIMAL, template_dirs=[tmp_path])
    assert str(caught.value) == f"{path}:1: templates must be named by a literal string"
