-- Primary refresh tokens are no longer looked up by device. Disabling a device used to mark
-- its tokens revoked through this index; every use of a token already checks its device,
-- and a disabled device stays disabled, so the mark added nothing but a random index page
-- written per sign-in (see docs/PERFORMANCE.md).
DROP INDEX IF EXISTS prts_by_device;
