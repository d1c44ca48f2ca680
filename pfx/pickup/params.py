"""The parameters of the local submission path: pickup's, and those sendmail/postdrop read."""

from pfx.plugin import Param

# pickup itself reads only core parameters (queue_directory, myhostname, mail_name).
PARAMETERS = (
    Param("authorized_submit_users", "static:anyone", "list"),
    Param("sendmail_fix_line_endings", "always"),
)
