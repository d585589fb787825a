"""Each home's queue version (issue 18): what lets the public lookup cache its answer (R-PUB-3) and
never show a stale position (R-Q-4).

A lookup's answer is a function of the application, its entries, the queues they sit in (every
other entry and the state of every other application in them), the homes' admissions (R-Q-5), the
policy in force and the time. Everything but the time is covered here: whatever writes one of those
rows inserts, in the same transaction, a `QueueChange` for each home concerned, so the home's
version (its number of rows) moves exactly when the change commits. The time is covered by the
lookup's cache key (the next instant an entry gains a waiting point, R-Q-3).

One choke point: receivers of the models' own save and delete signals, connected in
`AdmissionsConfig.ready`, so no service has to remember a call (the allocation, offers, transitions,
changes, couples, re-reviews and reconfirmation all write through these models). The few bulk
`update()`/`bulk_create()` writes, which send no signal, call `queue_changed` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save

from admissions.models import (
    LIVE_OFFER_STATES,
    AllocationDecision,
    Application,
    ApplicationEvent,
    CoupleMember,
    FacilityChoice,
    Occupancy,
    Offer,
    Policy,
    PolicyActivation,
    QueueChange,
    QueueEntry,
    QueueEntryStatus,
    Reconfirmation,
    ReviewRequest,
)
from facilities.models import Facility


def queue_changed(facility_ids: Iterable[int]) -> None:
    """Move these homes' queue versions, in the caller's transaction. Within one transaction (and
    savepoint) a home is written once: the marker kept among the connection's commit hooks is
    dropped with the savepoint or transaction it belongs to, so a rolled-back change is written again
    by the next one."""
    ids = {int(pk) for pk in facility_ids if pk is not None}
    connection = transaction.get_connection()
    written = _written_here(connection) if connection.in_atomic_block else None
    if written is not None:
        ids -= written
    if not ids:
        return
    QueueChange.objects.bulk_create([QueueChange(facility_id=pk) for pk in sorted(ids)])
    if written is not None:
        written |= ids


class _Written(set):
    """The homes already written at one savepoint level; a commit hook that does nothing."""

    def __call__(self) -> None:
        return None


def _written_here(connection) -> _Written:
    level = set(connection.savepoint_ids)
    for sids, func, _robust in connection.run_on_commit:
        if isinstance(func, _Written) and sids == level:
            return func
    marker = _Written()
    transaction.on_commit(marker)
    return marker


def queue_versions_of(application_id: int) -> dict[int, int]:
    """{home: its version now} for every home of the application (`facilities_of`), in one query:
    the sum of the home's changes' weights over their index (a home with no change yet is at 0).

    Written in SQL because every public lookup runs it: Django took longer to build this query
    (about 1.5 ms of CPU) than the database took to answer it (issue 18)."""
    homes, params = _homes_sql(application_id)
    sql = f"""
        SELECT home.id, COALESCE((SELECT SUM(change.weight) FROM {QueueChange._meta.db_table} change
                                  WHERE change.facility_id = home.id), 0)
        FROM {Facility._meta.db_table} home WHERE home.id IN ({homes})"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def facilities_of(application_id: int) -> set[int]:
    """The homes whose queues an application is in or may be: its choices, its open entries and
    the home of a live offer (one query)."""
    homes, params = _homes_sql(application_id)
    with connection.cursor() as cursor:
        cursor.execute(homes, params)
        return {home for (home,) in cursor.fetchall()}


def _homes_sql(application_id: int) -> tuple[str, list]:
    """The one statement of an application's homes (`facilities_of`), with its parameters."""
    offer_states = [str(state) for state in LIVE_OFFER_STATES]
    sql = f"""
        SELECT facility_id FROM {FacilityChoice._meta.db_table} WHERE application_id = %s
        UNION SELECT facility_id FROM {QueueEntry._meta.db_table} WHERE application_id = %s AND status = %s
        UNION SELECT facility_id FROM {Offer._meta.db_table}
              WHERE application_id = %s AND state IN ({", ".join(["%s"] * len(offer_states))})"""
    return sql, [application_id, application_id, QueueEntryStatus.OPEN.value, application_id, *offer_states]


def queue_changes_fold() -> dict[str, int]:
    """Bound the table: each home's rows up to the newest seen are replaced by one row carrying
    their summed weight, in one transaction a home, so its version (the sum) never moves here and
    never goes back, and a change committed meanwhile is neither lost nor counted twice. The rows
    removed are exactly those the DELETE saw (their weights come back with RETURNING), so a row
    committed between two statements is never dropped uncounted. Returns the homes folded and the
    rows removed."""
    table = connection.ops.quote_name(QueueChange._meta.db_table)
    homes = removed = 0
    many = (
        QueueChange.objects.order_by()
        .values("facility_id")
        .annotate(newest=Max("id"), rows=Count("id"))
        .filter(rows__gt=1)
        .values_list("facility_id", "newest")
    )
    for facility_id, newest in list(many):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE facility_id = %s AND id <= %s RETURNING weight", [facility_id, newest]
            )
            weights = [row[0] for row in cursor.fetchall()]
            if weights:
                QueueChange.objects.create(facility_id=facility_id, weight=sum(weights))
        homes += 1
        removed += len(weights)
    return {"homes": homes, "rows_removed": removed}


# --- the receivers: one per kind of row, all moving the versions of the homes concerned -----------
def _home_of_row(sender, instance, **kwargs) -> None:
    """A row that belongs to one home's queue or figures: an entry, an offer, an admission (R-Q-5),
    an allocation decision (a couple's skip is shown, R-CPL-3), a choice."""
    queue_changed([instance.facility_id])


def _homes_of_application(sender, instance, **kwargs) -> None:
    """An application's own change moves the positions of everyone queued with it (its state
    decides who is on hold, R-Q-4) and its own answer. Events cover every act on an application
    (R-FSM-2); re-reviews (R-ASM-6), couples (R-CPL-3) and reconfirmations show in the answer."""
    application_id = instance.pk if isinstance(instance, Application) else instance.application_id
    queue_changed(facilities_of(application_id))


def _every_home(sender, instance, **kwargs) -> None:
    """A policy version (R-POL-1) rescores and re-levels every queue."""
    queue_changed(Facility.objects.values_list("pk", flat=True))


def _the_home(sender, instance, **kwargs) -> None:
    """A home's name, address and phone are in the answer."""
    queue_changed([instance.pk])


RECEIVERS = (
    (_home_of_row, (QueueEntry, Offer, Occupancy, AllocationDecision, FacilityChoice)),
    (_homes_of_application, (Application, ApplicationEvent, ReviewRequest, CoupleMember, Reconfirmation)),
    (_every_home, (Policy, PolicyActivation)),
    (_the_home, (Facility,)),
)


def queue_versions_connect() -> None:
    for receiver, models in RECEIVERS:
        for model in models:
            for signal in (post_save, post_delete):
                signal.connect(
                    receiver, sender=model, dispatch_uid=f"queue_versions.{receiver.__name__}.{model.__name__}"
                )
