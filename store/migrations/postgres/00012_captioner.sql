-- +goose Up
-- Invitation links may give the captioner role: the one who types the live captions.
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_role_check
    CHECK (role IN ('attendee', 'presenter', 'moderator', 'captioner'));

-- +goose Down
DELETE FROM invitations WHERE role = 'captioner';
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_role_check
    CHECK (role IN ('attendee', 'presenter', 'moderator'));
