"""`tee-check`: argument parsing, files, exit codes. The only module that prints.

In: argv. Out: text on stdout/stderr and an exit code:
  0  every expectation met (or no expectations and no violation)
  1  a property violated without an `expect`, or an expectation unmet
  2  a mistake in the spec or the command line (diagnostics with FILE:LINE:COL)
  3  an internal error (a bug in tee-check: please report it)
A spec mistake never prints a Python traceback; TEE_CHECK_DEBUG=1 shows one for internal
errors. Ctrl-C and --timeout still print what was found so far, with `unknown (reason)`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence

from checker import __version__
from checker.diagnostics import SpecError, render
from checker.pipeline import ENGINES, RunOptions, load, run
from checker.replay import ReplayMismatch
from checker.report.text import render as render_text
from checker.source import SourceFile

EXIT_OK, EXIT_VIOLATION, EXIT_SPEC_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
FORMATS = ("text", "json", "markdown", "sarif", "junit", "html")

DESCRIPTION = """\
Check the isolation and integrity properties of a TEE state machine written in .tee.

tee-check type-checks FILE.tee, then checks every invariant, transition, cover, assert
and the built-in `well_defined`, and prints one line per property:
  proved                 true in every reachable state (the search was exhaustive)
  holds to depth N       true in every state within N steps (bounded)
  violated at step K     false; the shortest trace (K steps) is printed
  reachable at step K    a cover is satisfied; the trace to it is printed
  unreachable (proved)   no reachable state satisfies the cover
  unknown (REASON)       not decided: time-out, state bound, interrupted
"""

EPILOG = """\
exit codes: 0 every `expect` met (or none given and nothing violated); 1 a property
violated or an expectation unmet; 2 a mistake in the spec or the command; 3 an internal
error.

examples:
  tee-check spec/snp.tee
  tee-check examples/rmp_core.tee --set PAGES=3 --set GUESTS=2
  tee-check spec/snp.tee --depth 10 --timeout 60
  tee-check spec/snp.tee --only integrity --no-trace
  tee-check spec/snp.tee --report-dir reports/     # report.json, .md, .sarif, junit.xml, ITF traces
  tee-check report reports/report.json --format markdown
  tee-check fuzz examples/rmp_core.tee --model examples.models.rmp_core_model:RmpCoreModel
  tee-check replay reports/traces/integrity.itf.json --model examples.models.rmp_core_model:RmpCoreModel
"""


def _positive(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {v}")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError("the time-out must be > 0 seconds")
    return v


def _assignment(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), int(value.strip(), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the value of {name.strip()} must be an integer, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tee-check", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.tee", help="the spec to check")
    p.add_argument("--set", dest="overrides", metavar="NAME=VALUE", type=_assignment, action="append",
                   default=[], help="override a `const` of the spec (repeatable)")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="explicit: breadth-first search of every state; bmc: z3 bounded model checking "
                        "to --depth; induction: bmc + 1-/k-induction; pdr: IC3 (finds the strengthening an "
                        "invariant needs) + bmc; spacer: bmc + z3's Spacer; auto (default): an exhaustive "
                        "explicit search when the state space is small, else induction, IC3, bmc")
    p.add_argument("--depth", type=_positive, metavar="N",
                   help="bound the search to N steps from init (z3 engines: default 10); "
                        "what is not proved then says `holds to depth N`")
    p.add_argument("--max-states", type=_positive, metavar="N",
                   help="stop after N distinct states with `unknown (state bound reached)`")
    p.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                   help="stop after this long; undecided properties say `unknown (time-out)`")
    p.add_argument("--seed", type=_positive, default=0, metavar="N",
                   help="solver random seed (default 0: runs are reproducible)")
    p.add_argument("--jobs", type=_positive, default=1, metavar="N",
                   help="run the per-property proofs in N processes (default 1)")
    p.add_argument("--no-vacuity", action="store_true",
                   help="skip the warnings on never-enabled actions and empty invariants")
    p.add_argument("--only", action="append", default=[], metavar="PROPERTY",
                   help="report only this property (repeatable)")
    p.add_argument("--actor", dest="actors", action="append", default=[], metavar="ACTOR",
                   help="only the actions `by ACTOR` take steps (repeatable; `env` for actions "
                        "without `by`): a narrower threat model, named in every report")
    p.add_argument("--no-trace", action="store_true", help="print verdicts without traces")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour output (auto: when stdout is a terminal and NO_COLOR is unset)")
    p.add_argument("--progress", action="store_true", help="print search progress to stderr")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="what to print on stdout (default text; the others are for machines)")
    p.add_argument("--report-times", action="store_true",
                   help="include timings in report files (off: reports are byte-for-byte reproducible)")
    p.add_argument("--report-dir", metavar="DIR",
                   help="also write every report there: report.json, report.html, report.md, report.sarif, junit.xml, "
                        "traces/*.itf.json (regenerate with `tee-check report DIR/report.json`)")
    p.add_argument("--version", action="version", version=f"tee-check {__version__}")
    return p


def _use_color(mode: str, stream: object) -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("tee-check: interrupted", file=sys.stderr)
        return EXIT_VIOLATION
    except BrokenPipeError:
        return EXIT_OK


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "report":
        return report_main(argv[1:])
    if argv and argv[0] in ("fuzz", "replay"):
        from checker import cli_testing

        return cli_testing.fuzz_main(argv[1:]) if argv[0] == "fuzz" else cli_testing.replay_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code in (0, None) else EXIT_SPEC_ERROR
    color = _use_color(args.color, sys.stdout)
    err_color = _use_color(args.color, sys.stderr)
    overrides = dict(args.overrides)
    source = None
    try:
        source, spec = load(args.file, overrides)
        unknown = [o for o in args.only if o not in {p.name for p in spec.properties}]
        if unknown:
            print(f"tee-check: error: --only {unknown[0]}: the spec has no such property "
                  f"(it has: {', '.join(p.name for p in spec.properties)})", file=sys.stderr)
            return EXIT_SPEC_ERROR
        from checker.pipeline import actor_names

        stray = [a for a in args.actors if a not in actor_names(spec)]
        if stray:
            print(f"tee-check: error: --actor {stray[0]}: no action is taken by it "
                  f"(the actors are: {', '.join(actor_names(spec))})", file=sys.stderr)
            return EXIT_SPEC_ERROR
        progress = None
        if args.progress:
            t0 = time.monotonic()

            def progress(states: int, steps: int, depth: int) -> None:
                dt = time.monotonic() - t0
                print(f"  ... {states:,} states, {steps:,} steps, depth {depth}, {dt:.1f}s "
                      f"({states / max(dt, 1e-9):,.0f} states/s)", file=sys.stderr, flush=True)
        result = run(spec, RunOptions(engine=args.engine, depth=args.depth, max_states=args.max_states,
                                      timeout=args.timeout, only=tuple(args.only), progress=progress,
                                      overrides=overrides, seed=args.seed, vacuity=not args.no_vacuity,
                                      actors=tuple(dict.fromkeys(args.actors)),
                                      jobs=max(args.jobs, 1)))
    except SpecError as err:
        for d in err.diagnostics:
            print(render(d, source if source and d.span.path == source.path else _try_source(d.span.path),
                         err_color), file=sys.stderr)
        n = sum(1 for d in err.diagnostics if d.severity == "error")
        print(f"tee-check: {n} error{'s' if n != 1 else ''} in {args.file}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    except ReplayMismatch as err:
        _internal(err, "a counterexample did not replay through the interpreter")
        return EXIT_INTERNAL
    except RecursionError as err:
        _internal(err, "the spec is nested too deeply for this version")
        return EXIT_INTERNAL
    except Exception as err:  # noqa: BLE001 - anything else is our bug, not the user's
        _internal(err, "unexpected exception")
        return EXIT_INTERNAL
    if args.format == "text":
        print(render_text(result, spec, source, color=color, traces=not args.no_trace))
    if args.format != "text" or args.report_dir:
        from checker.report.model import build, strip_times

        model = build(result, spec, source.text if source else None)
        if not args.report_times:
            model = strip_times(model)  # same spec, same report, byte for byte
        if args.format != "text":
            print(_render_model(model, args.format), end="")
        if args.report_dir:
            from checker.report.write import write_all

            try:
                written = write_all(model, args.report_dir)
            except OSError as err:
                print(f"tee-check: error: cannot write reports to {args.report_dir}: {err}", file=sys.stderr)
                return EXIT_SPEC_ERROR
            print(f"tee-check: wrote {len(written)} report files to {args.report_dir}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_VIOLATION


def _render_model(model: object, fmt: str) -> str:
    from checker.report import html, json_report, junit, markdown, sarif

    renderers = {"json": json_report.render, "markdown": markdown.render, "sarif": sarif.render,
                 "junit": junit.render, "html": html.render}
    return renderers[fmt](model)  # type: ignore[arg-type]


def report_main(argv: Sequence[str]) -> int:
    """`tee-check report report.json [--format F] [--report-dir DIR]`: regenerate reports."""
    p = argparse.ArgumentParser(prog="tee-check report",
                                description="Regenerate reports from a report.json written by --report-dir.")
    p.add_argument("report", metavar="report.json")
    p.add_argument("--format", choices=FORMATS[1:], default="markdown")
    p.add_argument("--report-dir", metavar="DIR", help="write every format there")
    try:
        args = p.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code in (0, None) else EXIT_SPEC_ERROR
    from checker.report import json_report

    try:
        with open(args.report, encoding="utf-8") as fh:
            model = json_report.load(fh.read())
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"tee-check: error: {args.report} is not a readable report.json: {err}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    if args.report_dir:
        from checker.report.write import write_all

        write_all(model, args.report_dir)
    else:
        print(_render_model(model, args.format), end="")
    return EXIT_OK


def _try_source(path: str) -> SourceFile | None:
    from checker.pipeline import read_source

    try:
        return read_source(path)
    except SpecError:
        return None


def _internal(err: BaseException, what: str) -> None:
    print(f"tee-check: internal error ({what}): {type(err).__name__}: {err}", file=sys.stderr)
    print("This is a bug in tee-check, not in your spec. Please report it with the spec attached.",
          file=sys.stderr)
    if os.environ.get("TEE_CHECK_DEBUG"):
        traceback.print_exc()
    else:
        print("(set TEE_CHECK_DEBUG=1 to see the Python traceback)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
