"""Check a Kubernetes GMSACredentialSpec resource against the windows-gmsa CRD's v1 schema (test helper).

The schema (tests/data/windows-gmsa/gmsacredentialspec-v1.schema.json) names its source. The CRD is structural
and declares no additionalProperties, so the API server accepts any extra field and prunes it silently: a field
spelled wrongly would vanish without an error. ``crd_problems`` reports such fields too.
"""
from __future__ import annotations

import json
import os

import jsonschema  # comes with ansible-lint (requirements-dev.txt)

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'windows-gmsa',
                      'gmsacredentialspec-v1.schema.json')


def crd_problems(resource):
    """Schema violations and the fields the API server would prune, as sentences (empty when valid)."""
    with open(SCHEMA) as f:
        schema = json.load(f)
    errors = ['%s: %s' % ('.'.join(str(p) for p in e.absolute_path), e.message)
              for e in jsonschema.Draft4Validator(schema).iter_errors(resource)]

    def walk(value, node, where):
        if isinstance(value, dict):
            props = node.get('properties', {})
            for k, v in value.items():
                if where == '' and k in ('apiVersion', 'kind', 'metadata'):
                    continue
                if k not in props:
                    errors.append('%s%s would be pruned' % (where, k))
                else:
                    walk(v, props[k], '%s%s.' % (where, k))
        elif isinstance(value, list):
            for v in value:
                walk(v, node.get('items', {}), where)
    walk(resource, schema, '')
    return errors
