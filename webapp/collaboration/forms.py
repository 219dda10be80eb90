"""WTForms of comments: they carry the input; the service's rules decide."""

from __future__ import annotations

from wtforms import Form, HiddenField, TextAreaField


class CommentForm(Form):
    """Write, reply to or edit a comment."""

    content = TextAreaField("Comment")
    parent_comment_id = HiddenField()
    version = HiddenField()
