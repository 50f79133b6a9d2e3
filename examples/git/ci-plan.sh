#!/bin/sh
# The plan step of a CI job: what `tenantd apply` would change on the target, for review.
#
# Runs `tenantd plan --detailed-exitcode --output json` into $PLAN_JSON (for tools), then the
# human plan with its per-container diffs into $PLAN_TEXT and the job log (for people).
# Exits 0 with "no changes" or "changes pending", 1 on an error (an invalid spec, a conflict, an
# unreachable engine). With FAIL_ON_CHANGES=1 pending changes exit 2 instead, for a job that
# checks that the target runs what the branch says (drift detection).
#
# The config is tenantd's own: --config is not passed, so TENANTD_CONFIG (or the default
# /etc/tenantd/tenantd.toml) names it; its tenants_dir should be the checkout's specs.
#
# Environment: TENANTD_BIN (default tenantd), PLAN_JSON (plan.json), PLAN_TEXT (plan.txt),
# FAIL_ON_CHANGES (0). On GitHub Actions it also writes `changes=true|false` to $GITHUB_OUTPUT
# and the plan to the job summary ($GITHUB_STEP_SUMMARY).
set -u

tenantd=${TENANTD_BIN:-tenantd}
plan_json=${PLAN_JSON:-plan.json}
plan_text=${PLAN_TEXT:-plan.txt}

"$tenantd" plan --detailed-exitcode --output json >"$plan_json"
code=$?
case $code in
0) result="no changes" changes=false ;;
2) result="changes pending" changes=true ;;
*) result="error" changes=unknown ;;
esac

# The same plan for people. It observes the engine again, so on a target that changes between
# the two runs it can differ from $PLAN_JSON; the JSON is what the exit code is about.
"$tenantd" plan >"$plan_text" 2>&1
echo "tenantd plan: $result"
cat "$plan_text"

if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "changes=$changes" >>"$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
        echo "### tenantd plan: $result"
        echo
        echo '```diff'
        cat "$plan_text"
        echo '```'
    } >>"$GITHUB_STEP_SUMMARY"
fi

case $code in
0) exit 0 ;;
2) if [ "${FAIL_ON_CHANGES:-0}" = 1 ]; then exit 2; else exit 0; fi ;;
*) echo "tenantd plan failed (exit $code); see the errors above" >&2; exit 1 ;;
esac
