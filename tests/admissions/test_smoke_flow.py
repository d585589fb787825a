import pytest

from admissions.models import Offer
from tests.factories import FacilityFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db


def test_an_application_goes_from_intake_to_an_offer():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9)
    (vacant,) = add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    application.refresh_from_db()
    assert application.state == "offered"
    offer = Offer.objects.get(application=application)
    assert offer.bed == vacant
