"""``pimgen run gcn``: a 2-layer GCN with the combination ``X W`` on the host and every aggregation on the engine.

The network is trained on the host in NumPy (seconds; the weights are cached, ``sw_model.gcn.load_or_train``), then
run three times on the test nodes: in float64, with the engine's golden model doing the aggregations on quantised
features (``sw_model.gcn.quantized_aggregator``), and with the engine itself (through :func:`pimgen.session.execute`,
so on the simulator today and a board later) doing them on the very same codes. The engine's predictions must equal
the golden's exactly, and so must every aggregated code.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import InputError
from ..session import backend_options, execute

__all__ = ["GCN_TARGET", "GCN_DATASETS"]

#: Datasets the command trains and runs on.
GCN_DATASETS = ("cora", "citeseer")


@dataclass(frozen=True)
class RunTarget:
    """A further workload of ``pimgen run``: its help, its options and the command."""
    help: str
    add_arguments: Callable
    run: Callable


def _add_arguments(parser, option_types):
    parser.add_argument("--dataset", default="cora", choices=GCN_DATASETS, help="the graph and its split")
    parser.add_argument("--hidden", type=option_types.positive("--hidden"), default=16,
                        help="hidden features of the GCN (default 16)")
    parser.add_argument("--seed", type=option_types.non_negative("--seed"), default=0,
                        help="seed of the training (default 0)")
    parser.add_argument("--mixed-thresholds", type=_int_list("--mixed-thresholds"), default=None, metavar="D,D,...",
                        help="--format mixed: ascending in-degree cut points of the width groups "
                             "(default: pimgen.gnn.mixed's, 5,8)")
    parser.add_argument("--mixed-widths", type=_int_list("--mixed-widths"), default=None, metavar="B,B,...",
                        help="--format mixed: bits per feature of each group, 1..8, one more than the thresholds "
                             "(default 4,2,4)")


def _int_list(option):
    import argparse

    def parse(text):
        try:
            return tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be integers separated by commas, not {text!r}") from None
    parse.__name__ = option
    return parse


class _EngineAggregation:
    """The ``engine`` hook of ``sw_model.gcn.quantized_aggregator``: each aggregation runs on the engine."""

    def __init__(self, args, console):
        self.args = args
        self.console = console
        self.sessions = []

    def __call__(self, config, graph, codes, op, weights):
        from tb.host.gnn import GnnJob, PackedFeatures
        packed = None
        if config.is_mixed:                     # ``codes`` are pimgen.gnn.mixed.MixedFeatures, graph in their order
            from ..gnn.mixed import decode_mixed
            packed, codes = PackedFeatures.from_mixed(codes), decode_mixed(codes)
        job = GnnJob(graph, codes, ops=(op,), weights=weights, name=f"gcn-layer{len(self.sessions) + 1}",
                     packed=packed)
        session = execute(config, [job], **backend_options(self.args), build_root=self.args.build_dir,
                          waves=self.args.waves, log=self.console.log, progress=self.console.log)
        self.sessions.append(session)
        return session.results[0].runs[op].outputs["y"]


class _Recorder:
    """The golden ``engine`` hook, keeping every aggregated result for the comparison with the engine's."""

    def __init__(self):
        from sw_model.gnn import aggregate
        self.aggregate = aggregate
        self.outputs = []

    def __call__(self, config, graph, codes, op, weights):
        if config.is_mixed:
            from sw_model.gcn import golden_mixed_engine
            y = golden_mixed_engine(config, graph, codes, op, weights=weights)
        else:
            y = self.aggregate(config, graph, codes, op, weights=weights)
        self.outputs.append(y)
        return y


def _run(config, args, console):
    from sw_model import gcn

    formats = (*gcn.QUANTIZED_FORMATS, "mixed")
    if config.format not in formats:
        raise InputError(f"--format must be one of {', '.join(formats)} for pimgen run gcn, not {config.format}")
    # Everything that can be checked is checked before the training (a huge --hidden would take minutes).
    from sw_model.datasets import load_dataset
    ds = load_dataset(args.dataset)
    graph = gcn.gcn_graph(ds)
    limits = {"max_nodes": graph.num_nodes, "max_edges": graph.nnz,
              "max_features": max(args.hidden, ds.num_classes)}
    too_small = [f"{name} (--{name.replace('_', '-')}) = {getattr(config, name)} < {need}"
                 for name, need in limits.items() if getattr(config, name) < need]
    if too_small:
        raise InputError(f"The {args.dataset} GCN does not fit the config: {'; '.join(too_small)}")
    if config.is_mixed:
        from ..gnn.mixed import DEFAULT_THRESHOLDS, DEFAULT_WIDTHS, widths_for_degrees
        plan_options = {"thresholds": args.mixed_thresholds or DEFAULT_THRESHOLDS,
                        "widths": args.mixed_widths or DEFAULT_WIDTHS}
        try:                                    # checked before anything runs, naming the options
            widths_for_degrees(np.zeros(1, dtype=np.int64), **plan_options)
        except InputError as exc:
            raise InputError(f"--mixed-thresholds/--mixed-widths: {exc}") from None

        def aggregator(config, ds, engine):
            return gcn.mixed_aggregator(config, ds, engine=engine, **plan_options)
    elif args.mixed_thresholds or args.mixed_widths:
        raise InputError("--mixed-thresholds and --mixed-widths apply to --format mixed only")
    else:
        aggregator = gcn.quantized_aggregator
    with console.status(f"training the GCN on {args.dataset} (or taking it from the cache)"):
        params = gcn.load_or_train(ds, hidden=args.hidden, seed=args.seed)
    float_logits = gcn.gcn_forward(params, ds, gcn.float_aggregator(ds))
    golden = _Recorder()
    golden_logits = gcn.gcn_forward(params, ds, aggregator(config, ds, engine=golden))
    engine = _EngineAggregation(args, console)
    with console.status(f"running both aggregations of the GCN on the engine ({args.backend})"):
        rtl = aggregator(config, ds, engine=engine)
        rtl_logits = gcn.gcn_forward(params, ds, rtl)

    same_codes = all(np.array_equal(g, s.results[0].runs["weighted"].outputs["y"])
                     for g, s in zip(golden.outputs, engine.sessions))
    same_predictions = np.array_equal(np.argmax(golden_logits, axis=1), np.argmax(rtl_logits, axis=1))
    accuracies = {"float64": gcn.accuracy(float_logits, ds), "golden": gcn.accuracy(golden_logits, ds),
                  "engine": gcn.accuracy(rtl_logits, ds)}
    rows = []
    print(f"{args.dataset} 2-layer GCN (hidden {params.hidden}, seed {args.seed}; trained in "
          f"{params.train_seconds:.1f} s or taken from the cache): aggregations on the {config.format} engine, "
          f"lanes = {config.lanes}, pes = {config.pes}")
    labels = {"float64": "float64", "golden": f"{config.format} golden model",
              "engine": f"{config.format} engine ({args.backend})"}
    width = max(len(label) for label in labels.values())
    for key, label in labels.items():
        print(f"  test accuracy, {label + ':':<{width + 1}} {accuracies[key]:.4f}")
    print(f"  engine predictions equal the golden's: {'yes' if same_predictions else 'NO'}; every aggregated "
          f"code bit-exact: {'yes' if same_codes else 'NO'}")
    if config.is_mixed:
        counts = [m.byte_counts() for m in rtl.mixed.values()]
        print("  mixed precision: " + "; ".join(
            f"layer {layer} {c['avg_bits']:.2f} bits/feature, {c['total_bytes']} bytes with headers "
            f"({c['fp32_ratio']:.2f}x fewer than fp32, {c['int8_ratio']:.2f}x fewer than int8)"
            for layer, c in enumerate(counts, start=1)))
    for layer, session in enumerate(engine.sessions, start=1):
        counters = session.results[0].runs["weighted"].counters
        rows.append({"layer": layer, "cycles": counters["cycles"], "edges": counters["edges"],
                     "engine_us": counters["cycles"] / session.clock_hz * 1e6})
        print(f"  layer {layer} aggregation: {counters['cycles']} cycles ({rows[-1]['engine_us']:.1f} us at "
              f"{session.clock_hz / 1e6:g} MHz), {counters['edges']} edges")
    if args.json:
        import json
        from ..outputs import write_output_file
        write_output_file(args.json, json.dumps({"dataset": args.dataset, "format": config.format,
                                                 "lanes": config.lanes, "pes": config.pes,
                                                 "accuracy": accuracies, "predictions_equal": bool(same_predictions),
                                                 "codes_equal": bool(same_codes), "layers": rows}, indent=2) + "\n",
                          "--json")
    return 0 if same_predictions and same_codes else 1


GCN_TARGET = RunTarget("train a 2-layer GCN on the host and run its aggregations on the engine", _add_arguments, _run)
