#!/bin/sh
# One-shot (the temporal-namespace service): waits until the Temporal server serves, creates the namespace and
# registers the deploy search attributes, so the worker and the relay start against a ready namespace. The
# worker registers missing attributes itself too (temporal.searchAttributes); doing it here first means no
# workflow task meets an attribute the server has not published yet. Idempotent: an existing namespace or
# attribute is left as it is.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}" "${SEARCH_ATTRIBUTES:?}"

out=$(mktemp)
# <what> <command...>: up to 60 tries, 2 s apart (a just-started server or a just-created namespace needs a moment).
retry() {
  what=$1
  shift
  tries=1
  until "$@" >"$out" 2>&1; do
    if [ "$tries" -ge 60 ]; then
      echo "temporal-namespace: $what failed after $tries tries:" >&2
      cat "$out" >&2
      exit 1
    fi
    tries=$((tries + 1))
    sleep 2
  done
}

retry "waiting for Temporal at $TEMPORAL_ADDRESS" temporal operator cluster health
if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "temporal-namespace: namespace $NAMESPACE exists"
else
  retry "creating namespace $NAMESPACE" temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "temporal-namespace: namespace $NAMESPACE created (retention $RETENTION)"
fi
for name in $SEARCH_ATTRIBUTES; do
  retry "registering search attribute $name" \
    temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type Keyword
done
echo "temporal-namespace: search attributes $SEARCH_ATTRIBUTES registered"
