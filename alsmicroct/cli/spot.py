"""``alsmicroct-spot``: search, inspect, stage and download SPOT datasets.

Non-interactive: credentials come from ``SPOT_USERNAME`` / ``SPOT_PASSWORD`` or
``~/.netrc`` (``machine portal-auth.nersc.gov login <user> password <password>``), never
from the command line, so they do not show in ``ps`` or shell history. The API root
comes from ``--base-url``, else ``ALSMICROCT_SPOT_URL``, else the production portal.

Exit status: 0 success, 1 a SPOT error (or some downloads failed), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data_management.errors import SpotError
from ..data_management.paths import read_path_list
from ..data_management.session import SpotSession

__all__ = ["build_parser", "expand_datasets", "main"]

logger = logging.getLogger(__name__)

_PROG = "alsmicroct-spot"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``alsmicroct-spot``."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Search, inspect, stage and download raw datasets on the SPOT portal.",
        epilog="Credentials: set SPOT_USERNAME and SPOT_PASSWORD, or use ~/.netrc.",
    )
    parser.add_argument(
        "--base-url", help="SPOT API root (default $ALSMICROCT_SPOT_URL or https://portal-auth.nersc.gov/als)"
    )
    parser.add_argument("--newt-url", help="NEWT-style auth URL for the two-step login")
    parser.add_argument("--username", help="SPOT user (default $SPOT_USERNAME or netrc)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=3, help="retries of failed requests")
    parser.add_argument("--ca-bundle", help="CA bundle for TLS verification")
    parser.add_argument(
        "--allow-redirect",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="origin (https://host[:port]) downloads may be redirected to "
        "(repeatable; by default redirects to other hosts are refused)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("search", help="search datasets")
    p.add_argument("query", nargs="?", default="", help="search text, e.g. end_station=bl832")
    p.add_argument("--limit", type=int, default=10, help="records per page")
    p.add_argument("--skip", type=int, default=0, help="records to skip")
    p.add_argument("--all", action="store_true", help="fetch every page")
    p.add_argument("--sort-term", default="fs.stage_date")
    p.add_argument("--sort-type", choices=("desc", "asc"), default="desc")
    p.add_argument("--json", action="store_true", help="print the records as JSON")

    p = sub.add_parser("info", help="derived datasets, attributes and images of a dataset")
    p.add_argument("dataset", help="name, name.h5 or owner/name")
    p.add_argument("--owner", help="dataset owner (default: prefix or logged-in user)")
    p.add_argument("--group", default="/", help="HDF5 group for the attributes")
    p.add_argument("--images", action="store_true", help="also list the images")

    for name, text in (("stage", "stage datasets from tape"), ("download", "download datasets")):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "datasets",
            nargs="+",
            metavar="DATASET_OR_LIST",
            help="dataset names, or text files listing one name per line",
        )
        p.add_argument("--owner", help="dataset owner")
        p.add_argument("--poll-interval", type=float, default=3.0)
        p.add_argument("--stage-timeout", type=float, default=3600.0)
    sub.choices["stage"].add_argument("--no-wait", action="store_true", help="request staging and return")
    p = sub.choices["download"]
    p.add_argument("-o", "--output", default=".", help="destination folder")
    p.add_argument("--name", help="file name (only with a single dataset)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace existing files that differ from the remote ones")
    p.add_argument(  # also after the command, where the README's users write it
        "--allow-redirect",
        action="append",
        default=argparse.SUPPRESS,
        metavar="ORIGIN",
        help="as the option before the command: an origin downloads may be redirected to (repeatable)",
    )
    return parser


def expand_datasets(items: Sequence[str]) -> list[str]:
    """Replace list files (existing files not ending in ``.h5``) by the names they hold."""
    names: list[str] = []
    for item in items:
        path = Path(item)
        if not item.endswith(".h5") and path.is_file():
            names.extend(read_path_list(path))
        else:
            names.append(item)
    return names


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _search(spot: SpotSession, args: argparse.Namespace) -> int:
    options = {"sortterm": args.sort_term, "sorttype": args.sort_type}
    if args.all:
        records = list(spot.iter_search(args.query, page_size=args.limit, **options))
    else:
        records = spot.search(args.query, limitnum=args.limit, skipnum=args.skip, **options)
    if args.json:
        _print_json(records)
    else:
        for rec in records:
            fs = rec.get("fs") if isinstance(rec.get("fs"), dict) else {}
            date = fs.get("stage_date") or rec.get("stage_date", "")
            print(f"{rec.get('name', '?')}\t{rec.get('owner', '?')}\t{date}")
    return 0


def _info(spot: SpotSession, args: argparse.Namespace) -> int:
    out: dict[str, Any] = {
        "path": spot.raw_path(args.dataset, args.owner),
        "derived": spot.derived_datasets(args.dataset),
        "attributes": spot.attributes(args.dataset, args.owner, group=args.group),
    }
    if args.images:
        out["images"] = spot.list_images(args.dataset, args.owner)
    _print_json(out)
    return 0


def _each(spot: SpotSession, args: argparse.Namespace) -> int:
    names = expand_datasets(args.datasets)
    if args.command == "download" and args.name and len(names) != 1:
        raise SystemExit(f"{_PROG}: error: --name needs exactly one dataset")
    failed = 0
    for name in names:
        try:
            if args.command == "stage":
                answer = spot.stage(
                    name,
                    args.owner,
                    wait=not args.no_wait,
                    poll_interval=args.poll_interval,
                    timeout=args.stage_timeout,
                )
                print(f"{name}\t{answer.get('location')}")
            else:
                path = spot.download(
                    name,
                    args.owner,
                    args.output,
                    args.name,
                    stage_timeout=args.stage_timeout,
                    poll_interval=args.poll_interval,
                    progress=False if args.no_progress else None,
                    overwrite=args.overwrite,
                )
                print(path)
        except SpotError as exc:
            failed += 1
            print(f"{_PROG}: {name}: {exc}", file=sys.stderr)
    if failed:
        print(f"{_PROG}: {failed} of {len(names)} datasets failed", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``alsmicroct-spot``; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        with SpotSession(
            args.username,
            base_url=args.base_url,
            newt_url=args.newt_url,
            timeout=args.timeout,
            retries=args.retries,
            verify=args.ca_bundle or True,
            download_redirects=args.allow_redirect,
            prompt=False,
        ) as spot:
            handler = {"search": _search, "info": _info}.get(args.command, _each)
            return handler(spot, args)
    except SpotError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
