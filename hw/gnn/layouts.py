"""Element layouts of the GNN engine's windows (the data both the engine and the driver address from)."""

from pimgen.layout import WindowLayout

__all__ = ["feature_layout"]


def feature_layout(config):
    """Layout of the features and result windows: ``X[node, feature]``, ``feature % lanes`` selecting the bank
    (lane) and ``node * groups_max + feature // lanes`` the word, packed two int16 or four int8 per bus word."""
    return WindowLayout([("node", config.max_nodes), ("feature", config.max_features)],
                        element_bits=config.data_bits, signed=True, banks=config.lanes, banked="feature",
                        packed=True)
