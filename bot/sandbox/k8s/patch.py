"""The three patch formats the API server accepts: JSON Patch, JSON Merge Patch, strategic merge patch.

Error texts follow evanphx/json-patch, the library the API server uses, because clients show them.
"""

from __future__ import annotations

import copy

# Lists merged by a key under strategic merge patch (from the k8s.io/api struct tags).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}


class PatchError(Exception):
    """The patch cannot be applied; the message is the one the real server reports."""


# --- RFC 6902 JSON Patch ---------------------------------------------------------------------------------


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container: list, token: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise PatchError(f"Unable to access invalid index: {token}: invalid index referenced")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError(f"Unable to access invalid index: {i}: invalid index referenced")
    return i


def _parent(doc, path: str, op: str):
    tokens = _tokens(path)
    if not tokens:
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}: missing value")
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return cur, tokens[-1]


def _get(doc, path: str, op: str):
    if path == "":
        return doc
    parent, last = _parent(doc, path, op)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _add(doc, path: str, value):
    parent, last = _parent(doc, path, "add")
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, True), value)
    else:
        raise PatchError(f'add operation does not apply: doc is missing path: "{path}": missing value')


def _remove(doc, path: str, op: str = "remove"):
    parent, last = _parent(doc, path, op)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, False))
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def json_patch(doc: dict, ops: list) -> dict:
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            if path == "":
                doc = copy.deepcopy(op["value"])
            else:
                _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if path == "":
                doc = copy.deepcopy(op["value"])
                continue
            _get(doc, path, "replace")  # must exist
            parent, last = _parent(doc, path, "replace")
            parent[int(last) if isinstance(parent, list) else last] = copy.deepcopy(op["value"])
        elif kind == "move":
            _add(doc, path, _remove(doc, op["from"], "move"))
        elif kind == "copy":
            _add(doc, path, copy.deepcopy(_get(doc, op["from"], "copy")))
        elif kind == "test":
            try:
                current = _get(doc, path, "test")
            except PatchError:
                current = None
            if current != op.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


# --- RFC 7386 JSON Merge Patch ---------------------------------------------------------------------------


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# --- strategic merge patch -------------------------------------------------------------------------------


def _list_key(field: str, items: list) -> str | None:
    if field == "ports":
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field)


def _merge_list(field: str, current: list, patch: list, order: list | None) -> list:
    key = _list_key(field, current + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
            return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
        return copy.deepcopy(patch)
    if any(i.get("$patch") == "replace" for i in patch):
        return [strategic_merge({}, i) for i in patch if i.get("$patch") != "replace"]
    out = [copy.deepcopy(i) for i in current]
    for item in patch:
        directive = item.get("$patch")
        idx = next(
            (n for n, c in enumerate(out) if isinstance(c, dict) and c.get(key) == item.get(key)), None
        )
        if directive == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    if order:
        rank = {o.get(key): n for n, o in enumerate(order) if isinstance(o, dict)}
        out.sort(key=lambda i: rank.get(i.get(key), len(rank)))
    return out


def strategic_merge(target, patch):
    """Apply a strategic merge patch as kubectl makes them (merge keys, ``$patch``, ``$setElementOrder``)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            current = out.get(key) if isinstance(out.get(key), list) else []
            out[key] = _merge_list(key, current, value, patch.get(f"$setElementOrder/{key}"))
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = value
    for key, order in patch.items():
        if key.startswith("$setElementOrder/") and key.split("/", 1)[1] not in patch:
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list):
                out[field] = _merge_list(field, out[field], [], order)
    return out
