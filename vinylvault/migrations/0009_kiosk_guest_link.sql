-- The kiosk screen's own guest link (vinylvault/guest_links.py, kiosk_link): the one its QR code
-- carries when GUESTS_NEED_LINK is on. Its token is derived from the app's secret key and this
-- nonce, so it can be drawn again on every attract screen while only its hash is stored, like any
-- link's. NULL for the links the owner hands out; at most one row has a nonce.
ALTER TABLE guest_links ADD COLUMN kiosk_nonce TEXT;
CREATE UNIQUE INDEX guest_links_one_kiosk_link ON guest_links ((kiosk_nonce IS NOT NULL)) WHERE kiosk_nonce IS NOT NULL;
