import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Uploaded evidence written by tests goes to a throwaway folder.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english_by_default():
    """Tests read messages in English unless they choose a language.

    Outside a request Django uses LANGUAGE_CODE, which is zh-hans: without this, every message
    raised by a service would be Chinese. Tests of the Chinese text override it explicitly
    (tests/test_translations.py); requests made with the test client still choose their own
    language (LocaleMiddleware), and a test that changed it is reset afterwards.
    """
    translation.activate("en")
    yield
    translation.deactivate()
