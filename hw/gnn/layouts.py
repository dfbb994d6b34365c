"""Element layouts of the GNN engine's windows (the data both the engine and the driver address from)."""

from amaranth.hdl import signed, unsigned

from pimgen.layout import WindowLayout

__all__ = ["feature_layout", "feature_shape", "weight_shape", "word_layout", "header_layout", "HEADER_BITS"]

#: Bits of a node's header in mixed precision (its shift k; pimgen.gnn.mixed).
HEADER_BITS = 4


def feature_shape(config):
    """Shape of a feature or result element: signed fixed point, or a binary16 bit pattern for format fp16."""
    return unsigned(16) if config.is_float else signed(config.data_bits)


def weight_shape(config):
    """Shape of an edge weight: signed fixed point, or a binary16 bit pattern for format fp16."""
    return unsigned(16) if config.is_float else signed(config.weight_bits)


def feature_layout(config):
    """Layout of the features and result windows: ``X[node, feature]``, ``feature % lanes`` selecting the bank
    (lane) and ``node * groups_max + feature // lanes`` the word, packed two int16 or four int8 per bus word."""
    return WindowLayout([("node", config.max_nodes), ("feature", config.max_features)],
                        element_bits=config.data_bits, signed=not config.is_float, banks=config.lanes,
                        banked="feature",
                        packed=True)


def word_layout(config):
    """Layout of the mixed-precision ``words`` window: ``word`` rows of ``lanes`` bytes, one bank per lane (the packed
    slots of pimgen.gnn.mixed), four bytes per bus word."""
    return WindowLayout([("word", config.feature_words), ("lane", config.lanes)], element_bits=8, signed=False,
                        banks=config.lanes, banked="lane", packed=True)


def header_layout(config):
    """Layout of the mixed-precision ``headers`` window: each node's shift k, one per bus word."""
    return WindowLayout([("node", config.max_nodes)], element_bits=HEADER_BITS, signed=False)
