"""``python -m app delete-volunteer ID_OR_CODE``: remove a volunteer's rows and files (withdrawal)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "delete-volunteer",
        help="delete every row and file of a volunteer (by volunteer id or withdrawal code)",
        description="Withdrawal on request: deletes the volunteer's recordings, feature files, sessions, views "
        "and split memberships, then verifies that nothing is left. Needs the store read-write (stop the "
        "Streamlit server first, or use the researcher page while it runs). Exports made earlier are not touched.",
    )
    parser.add_argument("volunteer", help="volunteer id (v-...) or withdrawal code (XXXX-XXXX-XXXX)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import StoreError
    from core.store import Store

    with Store.open(args.home) as store:
        volunteer = store.find_volunteer(args.volunteer)
        if volunteer is None:
            raise StoreError(f"no volunteer with id or withdrawal code {args.volunteer!r}; check the spelling")
        vid = volunteer["volunteer_id"]
        n_views = len(store.list_views(volunteer_id=vid))
        if not args.yes:
            answer = input(f"delete volunteer {vid} with {n_views} view(s) and all their files? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        report = store.delete_volunteer(vid)
    print(f"deleted volunteer {vid}: {report['rows_deleted']} rows ({report['rows_by_table']}), "
          f"{len(report['files_deleted'])} files; verified: {report['verified']}")
    return 0
