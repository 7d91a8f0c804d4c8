"""Verified contacts: e-mail and phone are payment addresses, so their owner must prove them.

A code goes to the contact (SES e-mail, SNS SMS); typing it back verifies it, in one
transaction with the identity item that makes it a payment address. Verifying a contact also
delivers the money waiting for it (invitations). A phone that someone else has verified is
theirs (`phone_taken`); one that others hold unverified goes to the first who verifies it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain import messages
from chalicelib.domain.contact import (
    email_lookup_key,
    identity_key,
    normalize_phone,
    phone_lookup_key,
)
from chalicelib.domain.errors import AlreadyVerified, InvalidRequest, NotFound, PhoneTaken, ServiceUnavailable
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.user import PhoneChange, User
from chalicelib.domain.verification import VERIFY_TTL, Channel, mask_email, mask_phone, purpose_for
from chalicelib.services import sending
from chalicelib.services.codes import OneTimeCodes
from chalicelib.services.lockout import Lockout
from chalicelib.services.ports import Clock, Contacts, FieldCipher, Messenger

Deliver = Callable[[str, str], int]  # (contact identity key, new owner) -> invitations delivered

# Phone changes an account may make per day (setting a first phone counts): each one asks
# whether the number is someone else's (phone_taken), so the limit also bounds that probe.
PHONE_CHANGES_PER_DAY = 5


@dataclass
class ContactVerification:
    users: Contacts
    codes: OneTimeCodes
    messenger: Messenger
    cipher: FieldCipher
    blind_index: Callable[[str], str]
    send_limit: Lockout  # sends per user and channel per hour
    deliver: Deliver
    # Per contact, whoever asks: several accounts may hold one unverified phone, so limits per
    # account alone would let many accounts flood a number with SMS, or share out guesses at
    # the codes that would claim the money waiting for it.
    contact_sends: Lockout | None = None  # sends to one contact per hour
    contact_tries: Lockout | None = None  # code tries for one contact per day
    phone_changes: Lockout | None = None  # phone changes per account per day
    now: Clock = time.time

    def send(self, user_id: str, channel: Channel) -> str:
        """Send a new code to the contact; returns where it went, masked."""
        user = self._user(user_id)
        contact, key, verified = self._contact(user, channel)
        if verified:
            raise AlreadyVerified()
        if channel is Channel.PHONE and self.users.user_id_for(key) not in (None, user_id):
            raise PhoneTaken()  # no SMS for a number that is someone else's already
        now = int(self.now())
        self.send_limit.attempt(f"send#{channel}#{user_id}", now)
        if self.contact_sends:
            self.contact_sends.attempt(f"send#{key}", now)
        code = self.codes.issue(purpose_for(channel), user_id, key, VERIFY_TTL)
        if not sending.send(self.messenger, channel, contact, messages.verification(code, VERIFY_TTL // 60),
                            what="Code"):
            raise ServiceUnavailable("The code could not be sent; try again in a moment.")
        return mask_email(contact) if channel is Channel.EMAIL else mask_phone(contact)

    def confirm(self, user_id: str, channel: Channel, code: object) -> None:
        user = self._user(user_id)
        _, key, verified = self._contact(user, channel)
        if verified:
            raise AlreadyVerified()
        if self.contact_tries:
            self.contact_tries.attempt(f"tries#{key}", int(self.now()))
        proof = self.codes.check(purpose_for(channel), user_id, key, code)
        if channel is Channel.EMAIL:
            self.users.confirm_email(user_id, key, proof)
        else:
            assert user.phone_ct is not None  # _contact checked it
            self.users.confirm_phone(user_id, key, user.phone_ct, proof, rfc3339(self.now()))
        if self.contact_tries:
            self.contact_tries.succeeded(f"tries#{key}")
        self.deliver(key, user_id)

    def update_profile(self, user_id: str, first_name: str | None = None, last_name: str | None = None,
                       phone: str | None = None, *, step_up: Callable[[User], None] | None = None) -> None:
        """New names and/or a new phone (unverified: the old phone stops being a payment
        address at once, in the same transaction).

        A phone change is counted (`phone_changes`, per account) before the number is looked
        up, so the sixth change of the day is a 429 whether or not the number is taken: the
        limit bounds probing who is registered, and its 429 tells nothing about the number. The
        same phone again is no change and counts nothing; an invalid one is a 400 first. A real
        change needs `step_up` (the caller's fresh proof: services.stepup) before anything else,
        so whoever cannot prove it learns nothing about the number and never uses up the
        owner's changes; names alone need no proof."""
        user = self._user(user_id)
        names = {name: self.cipher.encrypt(value, user_id, name)
                 for name, value in (("first_name", first_name), ("last_name", last_name)) if value}
        change = None
        if phone is not None:
            phone = normalize_phone(phone)
            current = self.cipher.decrypt(user.phone_ct, user_id, "phone") if user.phone_ct else None
            if phone != current:
                if step_up is not None:
                    step_up(user)
                if self.phone_changes:
                    self.phone_changes.attempt(phone_change_key(user_id), int(self.now()))
                new_key = identity_key(phone_lookup_key(phone), self.blind_index)
                if self.users.user_id_for(new_key) is not None:
                    raise PhoneTaken()
                old_key = identity_key(phone_lookup_key(current), self.blind_index) if current else None
                change = PhoneChange(new_ct=self.cipher.encrypt(phone, user_id, "phone"), new_key=new_key,
                                     old_ct=user.phone_ct, old_verified_key=old_key if user.phone_verified else None)
        if names or change:
            self.users.update_profile(user_id, names, change)

    def _user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound()
        return user

    def _contact(self, user: User, channel: Channel) -> tuple[str, str, bool]:
        """(the contact in clear, its identity key, whether it is verified)."""
        if channel is Channel.EMAIL:
            if not user.email_ct:
                raise InvalidRequest("The account has no e-mail address.",
                                     details=[{"field": "channel", "message": "no e-mail on the account"}])
            email = self.cipher.decrypt(user.email_ct, user.user_id, "email")
            return email, identity_key(email_lookup_key(email), self.blind_index), user.email_verified
        if not user.phone_ct:
            raise InvalidRequest("The account has no phone number.",
                                 details=[{"field": "channel", "message": "no phone on the account"}])
        phone = self.cipher.decrypt(user.phone_ct, user.user_id, "phone")
        return phone, identity_key(phone_lookup_key(phone), self.blind_index), user.phone_verified


def phone_change_key(user_id: str) -> str:
    return f"phone-change#{user_id}"
