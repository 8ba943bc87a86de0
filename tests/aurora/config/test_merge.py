"""Property tests of the provenance-recording merge."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aurora.config.merge import ProvenanceMerge, flatten

keys = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2))
trees = st.recursive(scalars, lambda children: st.dictionaries(keys, children, min_size=1, max_size=3), max_leaves=8)
layers = st.lists(st.dictionaries(keys, trees, min_size=1, max_size=3), min_size=1, max_size=4)


def _merge(layer_list):
    m = ProvenanceMerge()
    for i, layer in enumerate(layer_list):
        m.apply(layer, layer=f"L{i}", source=f"file{i}.yaml")
    return m


def _lookup(tree, dotted):
    node = tree
    for part in dotted.split("."):
        node = node[part]
    return node


@given(layers)
def test_highest_layer_wins_for_every_leaf_it_sets(layer_list):
    m = _merge(layer_list)
    top = len(layer_list) - 1
    for key, value in flatten(layer_list[-1]):
        assert _lookup(m.data, key) == value
        assert m.history[key].effective.layer == f"L{top}"
        assert m.history[key].effective.source == f"file{top}.yaml"


@given(layers)
def test_provenance_names_the_last_writer_of_every_effective_leaf(layer_list):
    m = _merge(layer_list)
    for key, value in flatten(m.data):
        writers = [i for i, layer in enumerate(layer_list) if key in dict(flatten(layer))]
        assert writers, key
        assert m.history[key].effective.layer == f"L{writers[-1]}"
        assert m.history[key].effective.value == value


@given(st.dictionaries(keys, trees, min_size=1, max_size=3), st.dictionaries(keys, scalars, min_size=1, max_size=2))
def test_untouched_keys_survive(base, top):
    # Only top-level scalars in ``top``: every base key it does not name survives unchanged.
    m = _merge([base, top])
    for k, v in base.items():
        if k not in top:
            assert m.data[k] == v


def test_nested_mappings_merge_key_by_key_and_lists_replace():
    m = _merge([{"s": {"x": 1, "y": [1, 2]}}, {"s": {"y": [3]}}])
    assert m.data == {"s": {"x": 1, "y": [3]}}
    assert [o.value for o in m.history["s.y"].writes] == [[1, 2], [3]]
    assert m.history["s.x"].effective.layer == "L0"


def test_scalar_replaced_by_mapping_and_back():
    m = _merge([{"s": 1}, {"s": {"x": 2}}, {"s": 3}])
    assert m.data == {"s": 3}
    assert "s.x" not in m.history
    assert m.history["s"].effective.value == 3
