"""Print fresh keys for the decision log (SPEC §15), to put in the environment.

    DECISION_CHAIN_KEY=<id>:<secret>                 the keyed chain (R-VER-1)
    CHECKPOINT_SIGNING_KEY=<id>:<base64 private key> the checkpoints' Ed25519 key (R-VER-3)

To rotate, put the new key in front of the old one(s), comma-separated: the newest writes or signs;
every key listed still verifies (and every checkpoint key's public half stays published).
"""

import base64
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand
from django.utils import timezone


class Command(BaseCommand):
    help = "Print a new DECISION_CHAIN_KEY and CHECKPOINT_SIGNING_KEY (R-VER-1, R-VER-3), each with a new key id."

    def add_arguments(self, parser):
        parser.add_argument("--key-id", help="the key id (default: the date and time, e.g. k20261203)")

    def handle(self, *args, key_id=None, **options):
        key_id = key_id or timezone.localtime().strftime("k%Y%m%d%H%M")
        private = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self.stdout.write(f"DECISION_CHAIN_KEY={key_id}:{secrets.token_urlsafe(32)}")
        self.stdout.write(f"CHECKPOINT_SIGNING_KEY={key_id}:{base64.b64encode(private).decode()}")
