#!/usr/bin/env bash
# Feed a real scan's reports to real consumers:
#   - SARIF to Microsoft's SARIF Multitool `validate` (npm @microsoft/sarif-multitool-linux),
#     plus the OASIS JSON schema (tests/data) through Python's jsonschema;
#   - JUnit XML to Python's junitparser, checking the counts against `rules list`.
#
# Usage: M365GUARD=target/release/m365guard bash .ci/validate-reports.sh
# Tools are installed into $M365GUARD_CI_CACHE (default ~/.cache/m365guard-ci) on first use.
#
# Two Multitool behaviours this script works around (seen with 5.7.0):
#   - it exits 0 even when it reports errors: errors are read from its SARIF output log
#     (results with level "error"), not from the exit code;
#   - a log it cannot deserialise (an unknown enum value, a wrong type) is skipped silently,
#     with no result at all: so a canary copy with one extra property is validated too and
#     must produce JSON1005, proving the Multitool really read our document.
set -euo pipefail
cd "$(dirname "$0")/.."

M365GUARD=${M365GUARD:-target/release/m365guard}
SNAPSHOT=${SNAPSHOT:-examples/contoso-compromised.json}
CACHE=${M365GUARD_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m365guard-ci}
MULTITOOL_VERSION=5.7.0
JUNITPARSER_VERSION=5.0.3
JSONSCHEMA_VERSION=4.26.0
OASIS_SCHEMA=tests/data/sarif-schema-2.1.0.json

fail() {
  echo "validate-reports: FAILED: $*" >&2
  exit 1
}

[ -x "$M365GUARD" ] || fail "no executable at $M365GUARD (build it, or set M365GUARD)"
[ -f "$SNAPSHOT" ] || fail "no snapshot at $SNAPSHOT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --- tools -------------------------------------------------------------------------------
MT_DIR="$CACHE/sarif-multitool-$MULTITOOL_VERSION"
MT="$MT_DIR/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
if [ ! -f "$MT" ]; then
  echo "installing @microsoft/sarif-multitool-linux@$MULTITOOL_VERSION into $MT_DIR"
  mkdir -p "$MT_DIR"
  npm install --prefix "$MT_DIR" --no-audit --no-fund --loglevel=error \
    "@microsoft/sarif-multitool-linux@$MULTITOOL_VERSION" >/dev/null
fi
# The package's postinstall (chmod u+x) does not run where npm blocks install scripts.
chmod u+x "$MT"

VENV="$CACHE/venv-junitparser-$JUNITPARSER_VERSION-jsonschema-$JSONSCHEMA_VERSION"
if [ ! -x "$VENV/bin/python" ]; then
  echo "installing junitparser==$JUNITPARSER_VERSION jsonschema==$JSONSCHEMA_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "junitparser==$JUNITPARSER_VERSION" "jsonschema==$JSONSCHEMA_VERSION"
fi
PY="$VENV/bin/python"

# --- scan --------------------------------------------------------------------------------
OUT="$TMP/out"
set +e
"$M365GUARD" scan --snapshot "$SNAPSHOT" --format sarif --format junit --out "$OUT" \
  >"$TMP/scan.stdout" 2>"$TMP/scan.stderr"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  cat "$TMP/scan.stdout" "$TMP/scan.stderr" >&2
  fail "scan of $SNAPSHOT should exit 1 (findings), got $code"
fi
SARIF="$OUT/m365guard.sarif"
JUNIT="$OUT/m365guard.junit.xml"
[ -s "$SARIF" ] || fail "scan wrote no $SARIF"
[ -s "$JUNIT" ] || fail "scan wrote no $JUNIT"

# Rule ids from `rules list`: one line per rule after the header line starting with "ID".
"$M365GUARD" rules list >"$TMP/rules.txt"
awk 'NR > 1 && NF > 0 { print $1 }' "$TMP/rules.txt" | sort >"$TMP/rule-ids.txt"
[ "$(head -n1 "$TMP/rules.txt" | awk '{print $1}')" = "ID" ] ||
  fail "'rules list' no longer starts with its ID header; update this script"
RULES=$(wc -l <"$TMP/rule-ids.txt")
[ "$RULES" -gt 0 ] || fail "'rules list' listed no rules"

# --- SARIF: Sarif.Multitool --------------------------------------------------------------
# Prints "errors warnings" found in a Multitool output log, and lists them on stderr.
multitool_findings() {
  "$PY" - "$1" <<'EOF'
import json, sys
log = json.load(open(sys.argv[1]))
errors = warnings = 0
for run in log["runs"]:
    rules = run["tool"]["driver"].get("rules", [])
    for r in run.get("results", []):
        # A result without a level takes its rule's default, else "warning" (SARIF 3.27.10).
        level = r.get("level")
        if level is None and "ruleIndex" in r:
            level = rules[r["ruleIndex"]].get("defaultConfiguration", {}).get("level")
        level = level or "warning"
        msg = r["message"].get("text")
        if msg is None:
            rule = rules[r["ruleIndex"]] if "ruleIndex" in r else {}
            template = rule.get("messageStrings", {}).get(r["message"].get("id", ""), {}).get("text", "")
            msg = template
            for i, arg in enumerate(r["message"].get("arguments", [])):
                msg = msg.replace("{%d}" % i, arg)
            msg = msg.replace("{{", "{").replace("}}", "}")
        if level == "error":
            errors += 1
        elif level == "warning":
            warnings += 1
        print(f"Sarif.Multitool {level} {r.get('ruleId')}: {msg}", file=sys.stderr)
print(errors, warnings)
EOF
}

run_multitool() { # input, output log
  if ! "$MT" validate "$1" --output "$2" --log ForceOverwrite >"$2.console" 2>&1; then
    cat "$2.console" >&2
    fail "Sarif.Multitool validate crashed on $1"
  fi
  [ -s "$2" ] || fail "Sarif.Multitool wrote no output log for $1"
}

run_multitool "$SARIF" "$TMP/multitool.sarif"
multitool_findings "$TMP/multitool.sarif" >"$TMP/multitool-counts.txt" ||
  fail "cannot read the Sarif.Multitool output log"
read -r MT_ERRORS MT_WARNINGS <"$TMP/multitool-counts.txt"
[ "$MT_ERRORS" -eq 0 ] || fail "Sarif.Multitool reported $MT_ERRORS error(s) in $SARIF"

"$PY" - "$SARIF" "$TMP/canary.sarif" <<'EOF'
import json, sys
log = json.load(open(sys.argv[1]))
log["m365guardCanary"] = True
json.dump(log, open(sys.argv[2], "w"), indent=2)
EOF
run_multitool "$TMP/canary.sarif" "$TMP/multitool-canary.sarif"
"$PY" - "$TMP/multitool-canary.sarif" <<'EOF' ||
import json, sys
log = json.load(open(sys.argv[1]))
ids = [r.get("ruleId") for run in log["runs"] for r in run.get("results", [])]
sys.exit(0 if "JSON1005" in ids else 1)
EOF
  fail "Sarif.Multitool did not flag a canary property: it did not really read the SARIF log (a value it cannot deserialise?)"

# --- SARIF: OASIS schema and content -----------------------------------------------------
"$PY" - "$SARIF" "$OASIS_SCHEMA" "$TMP/rule-ids.txt" >"$TMP/sarif-summary.txt" <<'EOF' ||
import json, sys
from jsonschema import Draft7Validator
log, schema = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
errors = sorted(Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER).iter_errors(log),
                key=lambda e: list(e.absolute_path))
for e in errors[:20]:
    print("  schema:", "/".join(map(str, e.absolute_path)), e.message, file=sys.stderr)
if errors:
    sys.exit(f"{len(errors)} OASIS schema error(s)")
run = log["runs"][0]
rule_ids = sorted(r["id"] for r in run["tool"]["driver"]["rules"])
expected = open(sys.argv[3]).read().split()
if rule_ids != expected:
    sys.exit(f"SARIF rules {rule_ids} differ from `rules list` {expected}")
results = run.get("results", [])
if not results:
    sys.exit("SARIF has no results but the scan exited 1")
if not run["invocations"][0]["executionSuccessful"]:
    sys.exit("SARIF says execution failed but the scan exited 1 (not 3)")
suppressed = sum(1 for r in results if r.get("suppressions"))
print(len(rule_ids), len(results), suppressed)
EOF
  fail "SARIF content check failed"
read -r SARIF_RULES SARIF_RESULTS SARIF_SUPPRESSED <"$TMP/sarif-summary.txt"

# --- JUnit: junitparser ------------------------------------------------------------------
"$PY" - "$JUNIT" "$TMP/rule-ids.txt" >"$TMP/junit-summary.txt" <<'EOF' ||
import sys
from junitparser import JUnitXml, TestSuite
xml = JUnitXml.fromfile(sys.argv[1])
suites = [xml] if isinstance(xml, TestSuite) else list(xml)
cases = [case for suite in suites for case in suite]
names = sorted(case.name for case in cases)
expected = open(sys.argv[2]).read().split()
if names != expected:
    sys.exit(f"JUnit testcases {names} differ from `rules list` {expected}")
failed = sum(1 for c in cases if c.is_failure)
errors = sum(1 for c in cases if c.is_error)
skipped = sum(1 for c in cases if c.is_skipped)
if failed < 1:
    sys.exit("JUnit has no failed testcase but the scan exited 1")
if errors:
    sys.exit(f"JUnit has {errors} error testcase(s) (not evaluated) but the scan exited 1, not 3")
for suite in suites:
    if not suite.name:
        sys.exit("a JUnit testsuite has no name")
print(len(suites), len(cases), failed, errors, skipped)
EOF
  fail "JUnit check failed"
read -r JU_SUITES JU_CASES JU_FAILED JU_ERRORS JU_SKIPPED <"$TMP/junit-summary.txt"

echo "validate-reports: OK ($SNAPSHOT, $RULES rules)"
echo "  SARIF: $SARIF_RULES rules, $SARIF_RESULTS results ($SARIF_SUPPRESSED suppressed);" \
  "Sarif.Multitool $MULTITOOL_VERSION: $MT_ERRORS errors, $MT_WARNINGS warnings; OASIS schema: valid"
echo "  JUnit: $JU_SUITES suites, $JU_CASES testcases: $JU_FAILED failed, $JU_ERRORS errors," \
  "$JU_SKIPPED skipped (junitparser $JUNITPARSER_VERSION)"
