"""Paying someone who is not on the wallet yet (guarantee 11).

The money is held on the sender's wallet (`Ledger.transfer` with `invite`). It then has exactly
one of three outcomes, each the hold's resolution written with the invitation's status change,
conditional on `unclaimed`: posted to the first account that verifies the contact before the
expiry (`deliver`), voided by the sender (`cancel`), or voided by the scheduled `sweep` at or
after the expiry. The sweep also delivers what a crash between a verification and its
delivery left waiting.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib import observability
from chalicelib.domain import messages
from chalicelib.domain.errors import TooManyRequests, TransferNotCancelable
from chalicelib.domain.invitation import Invitation, Invitee
from chalicelib.domain.money import Money
from chalicelib.domain.results import InvitationsSwept, TransferView
from chalicelib.domain.unit_of_work import InvitationOutcome
from chalicelib.services import sending
from chalicelib.services.ledger import Ledger
from chalicelib.services.lockout import Lockout
from chalicelib.services.people import People
from chalicelib.services.ports import Clock, FieldCipher, LedgerStore, Messenger, UserDirectory

log = logging.getLogger(__name__)


@dataclass
class Invitations:
    ledger: Ledger
    store: LedgerStore
    users: UserDirectory
    messenger: Messenger
    cipher: FieldCipher
    announce_limit: Lockout | None = None  # invitation messages per contact per day
    now: Clock = time.time

    def announce(self, sender_id: str, invitee: Invitee, transfer: TransferView) -> None:
        """Tell the contact money waits for them. The money is held already: a failed send is
        counted and logged (without the address), never turned into a failed payment."""
        if self.announce_limit:
            try:  # a contact is told at most a few times a day, however many people invite it
                self.announce_limit.attempt(f"invited#{invitee.contact_key}", int(self.now()))
            except TooManyRequests:
                observability.count("InvitationNotSent")
                return
        until = datetime.fromisoformat(transfer["claim_expires_at"].replace("Z", "+00:00"))
        message = messages.invitation(self._display_name(sender_id),
                                      str(Money(transfer["amount"], transfer["currency"])),
                                      until.astimezone(UTC).strftime("%d %B %Y"))
        sending.send(self.messenger, invitee.channel, invitee.address, message, what="Invitation")

    def _display_name(self, user_id: str) -> str:
        return messages.display_name(*People(self.users, self.cipher).names(user_id))

    def deliver(self, contact_key: str, user_id: str) -> int:
        """Post every unclaimed, unexpired invitation for a contact to its new verified owner.
        A failure leaves the invitation unclaimed for the sweep to deliver."""
        delivered = 0
        try:
            waiting = self.store.invitations_for(contact_key)
        except Exception as exc:  # noqa: BLE001 - the verification stands; the sweep delivers
            log.warning("invitations not delivered yet: %s", type(exc).__name__)
            return 0
        for invitation in waiting:
            try:
                delivered += self._claim(invitation, user_id)
            except Exception as exc:  # noqa: BLE001 - the sweep retries; the verification stands
                log.warning("invitation %s not delivered yet: %s", invitation.transfer_id, type(exc).__name__)
                observability.count("InvitationDeliveryFailed")
        return delivered

    def _claim(self, invitation: Invitation, user_id: str) -> bool:
        now = int(self.now())
        if user_id == invitation.sender_id:
            # The sender proved the contact is theirs: the money simply goes back.
            return self.ledger.resolve_hold(invitation.transfer_id, post=False, record=InvitationOutcome(
                invitation.transfer_id, "canceled", now, by=user_id))
        wallet = self.ledger.default_wallet(user_id, invitation.currency)
        return self.ledger.resolve_hold(invitation.transfer_id, post=True, to=(wallet, user_id),
                                        record=InvitationOutcome(invitation.transfer_id, "posted", now, by=user_id))

    def cancel(self, user_id: str, transfer_id: str) -> TransferView:
        """The sender takes back an unclaimed invitation (409 once it is anything else)."""
        self.ledger.visible_transfer(user_id, transfer_id)  # 404 unless its sender or recipient
        invitation = self.store.get_invitation(transfer_id)
        if invitation is None or invitation.sender_id != user_id or invitation.status != "unclaimed":
            raise TransferNotCancelable()
        if not self.ledger.resolve_hold(transfer_id, post=False, record=InvitationOutcome(
                transfer_id, "canceled", int(self.now()), by=user_id)):
            raise TransferNotCancelable()  # a claim or the expiry got there first
        return self.ledger.get_transfer(user_id, transfer_id)

    def sweep(self) -> InvitationsSwept:
        """The scheduled job: return the expired, deliver the ones whose contact got verified."""
        now = int(self.now())
        done: InvitationsSwept = {"expired": 0, "delivered": 0, "failed": 0}
        for invitation in list(self.store.unclaimed_invitations()):
            try:
                if invitation.expires_at <= now:
                    done["expired"] += self.ledger.resolve_hold(invitation.transfer_id, post=False, record=(
                        InvitationOutcome(invitation.transfer_id, "expired", now)))
                elif owner := self.users.verified_user_for(invitation.contact_key):
                    done["delivered"] += self._claim(invitation, owner)
            except Exception as exc:  # noqa: BLE001 - one invitation never stops the others
                log.warning("invitation %s: %s", invitation.transfer_id, type(exc).__name__)
                done["failed"] += 1
        return done
