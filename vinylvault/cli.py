"""``flask --app vinylvault <command>``: getting a collection in from the command line.

``init`` (run.sh calls it), ``demo``, ``remove-demo``, ``import-csv FILE``,
``sync`` and ``covers`` (fill in missing covers from Discogs). The owner's ``set-password`` and ``create-api-token`` live in
:mod:`vinylvault.access.auth`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from vinylvault import db
from vinylvault.covers import extension
from vinylvault.library import collection, csv_import, demo, sync
from vinylvault.library.discogs import DiscogsError


def _settings():
    return current_app.config["SETTINGS"]


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database; load the demo when nothing is configured."""
    settings = _settings()
    conn = db.get_db()
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    click.echo(f"Database {settings.DATABASE_PATH} is at version {version}.")
    username, token = sync.discogs_credentials(conn, settings)
    albums = collection.counts(conn)["albums"]
    if albums:
        click.echo(f"The collection holds {albums} albums.")
    elif username and token:
        click.echo(
            f"Discogs account {username!r} configured: run `flask --app vinylvault sync` or wait "
            "for the background sync."
        )
    elif settings.DEMO_WHEN_EMPTY:
        count = demo.load_demo(conn, settings.DATA_DIR)
        click.echo(f"Loaded the demo collection ({count} albums); remove it with `remove-demo`.")
    else:
        click.echo("The collection is empty (DEMO_WHEN_EMPTY is off).")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo collection (about 48 albums with generated covers)."""
    count = demo.load_demo(db.get_db(), _settings().DATA_DIR)
    click.echo(f"Demo collection loaded: {count} albums.")


@click.command("remove-demo")
@with_appcontext
def remove_demo_command() -> None:
    """Remove the demo albums, their cover files and their cached images."""
    removed = demo.remove_demo(db.get_db(), _settings().DATA_DIR, current_app.extensions.get(extension.COVERS))
    click.echo(f"Removed {removed.albums} demo albums and {removed.cached_images} cached cover images.")


@click.command("import-csv")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_csv_command(file: Path) -> None:
    """Import a Discogs collection export (CSV)."""
    try:
        report = csv_import.import_csv(db.get_db(), file)
    except csv_import.CSVImportError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    click.echo(f"Imported {report.imported}, updated {report.updated}, skipped {len(report.skipped)}.")
    for line, reason in report.skipped:
        click.echo(f"  line {line}: {reason}", err=True)
    conn = db.get_db()
    waiting = csv_import.albums_waiting_for_covers(conn)
    if not waiting:
        return
    if not sync.discogs_credentials(conn, _settings())[1]:
        click.echo(csv_import.placeholder_note(waiting))
    else:
        click.echo(
            f"Covers for {waiting} of them arrive by themselves, in the background "
            "(or fetch some now with `flask --app vinylvault covers`)."
        )


#: `flask covers` without a token: what is missing and what to do, in one line.
NO_TOKEN = (
    f"No Discogs token yet, so there is nowhere to fetch covers from. Add your Discogs username and "
    f"personal access token {csv_import.ON_THE_SETUP_PAGE}: covers then arrive by themselves, "
    "in the background."
)


@click.command("covers")
@with_appcontext
def covers_command() -> None:
    """Fetch covers for albums without one (CSV imports), COVERS_PER_PASS releases at a time, paced."""
    settings = _settings()
    if not sync.discogs_credentials(db.get_db(), settings)[1]:
        raise click.ClickException(NO_TOKEN)
    if settings.COVERS_PER_PASS <= 0:
        raise click.ClickException("Cover passes are turned off (VINYL_VAULT_COVERS_PER_PASS=0).")
    try:
        result = sync.cover_pass_once(settings)
    except sync.SyncBusy as exc:
        raise click.ClickException(str(exc)) from None
    if result is None:  # the token was forgotten between the check and the pass
        raise click.ClickException(NO_TOKEN)
    click.echo(
        f"Covers: {result.from_stored} from stored details, {result.fetched} releases fetched, "
        f"{result.remaining} left for the next pass."
    )


def _print_progress(status: dict[str, Any]) -> None:
    click.echo(f"  page {status['page']}/{status['pages']}: {status['items_done']}/{status['total']} copies")


@click.command("sync")
@with_appcontext
def sync_command() -> None:
    """Sync the Discogs collection now, in the foreground (resumes an interrupted run)."""
    try:
        status = sync.sync_once(_settings(), on_progress=_print_progress)
    except (sync.SyncNotConfigured, sync.SyncBusy, DiscogsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Sync done: {status['added']} added, {status['updated']} updated, {status['removed']} removed.")
    if status["error"]:
        click.echo(f"Note: {status['error']}")


def init_app(app: Flask) -> None:
    for command in (init_command, demo_command, remove_demo_command, import_csv_command, sync_command, covers_command):
        app.cli.add_command(command)
