"""`americano seed` and `americano prepare`: the source database filled with the synthetic study (and, at prepare,
the wearing users' Apple Health exports imported)."""

from __future__ import annotations

from datetime import date

from americano_pipeline import settings
from americano_pipeline.demo import console
from americano_pipeline.demo.progress import Progress
from americano_pipeline.demo.seeding import seed as seed_study
from americano_pipeline.demo.synthetic import SeedConfig
from americano_pipeline.source.database import owner_connection
from americano_pipeline.source.schema import ensure_schema, row_counts


def seed(*, users: int, days: int, events_per_day: int, seed: int, end_date: date | None, reset: bool) -> None:
    """Seed the configured database (starting the embedded one when it is the default)."""
    kwargs = {"end_date": end_date} if end_date else {}
    config = SeedConfig(users=users, days=days, events_per_day=events_per_day, seed=seed, **kwargs)
    with owner_connection() as conn:
        report = seed_study(conn, config, reset=reset)
    console.print_counts(report.counts)
    print(f"loaded {report.counts['behavioral_events']:,} events in {report.seconds:.1f} s "
          f"({report.events_per_second:,.0f} events/s); ground truth: {report.ground_truth_path}")


def prepare(progress: Progress | None = None) -> None:
    """Start the database (embedded unless AMERICANO_DATABASE_URL), create the schema, seed it when empty, then
    import the study's wearable days (``_import_wearables``); the database start, the seeding and the import print
    their start and elapsed time (``demo.progress``)."""
    progress = progress or Progress()
    label = "connecting to the source database" if settings.external_database_url() else "starting the database"
    with progress.step(label):
        conn = owner_connection()
    with conn:
        ensure_schema(conn)
        if not any(row_counts(conn).values()):
            config = SeedConfig()
            with progress.step(f"seeding the empty database with the synthetic study ({config.users} user x "
                               f"{config.days} days, seed {config.seed})", name="seeding") as step:
                report = seed_study(conn, config)
                step.detail = f"{report.counts['behavioral_events']:,} events"
        conn.commit()
        _import_wearables(conn, progress)
        counts = row_counts(conn)
    print("source database rows:")
    console.print_counts(counts)
    console.print_ground_truth(settings.ground_truth_path())


def _import_wearables(conn, progress: Progress) -> None:
    """Write the wearing users' fixtures (``demo.wearables``) and import each Apple Health export the way
    ``americano context import-apple-health`` does (read, check, idempotent upsert through the writer login), so the
    warehouse has device-measured days to relate to the outcomes. Runs on every prepare, seeded now or before: a
    re-import changes nothing. A user the database does not hold (a ground truth left from another database) is
    skipped."""
    from americano_pipeline.commands.context import import_apple_health
    from americano_pipeline.demo.wearables import demo_fixtures

    with progress.step("writing the synthetic wearable fixtures (Apple Health export, Oura, WHOOP)",
                       name="wearable fixtures") as step:
        fixtures = demo_fixtures(settings.ground_truth_path(), timezone=settings.timezone_name())
        step.detail = f"{len(fixtures)} user{'s' * (len(fixtures) != 1)}"
    held = {row[0] for row in conn.execute('SELECT DISTINCT "userId" FROM context_metadata WHERE "userId" = ANY(%s)',
                                           [[f.user_id for f in fixtures]])}
    conn.commit()
    for user in fixtures:
        if user.user_id not in held:
            continue
        with progress.step(f"importing the Apple Health export of user {user.user_id} ({user.days} days)",
                           name="Apple Health import"):
            if not import_apple_health(str(user.export), user_id=user.user_id, timezone=user.timezone):
                raise RuntimeError(f"the synthetic Apple Health export {user.export} was refused (above): the "
                                   "fixtures must pass the import's checks")
