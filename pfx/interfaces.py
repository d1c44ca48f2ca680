"""Every plugin contract pfx has, in one file: the public API for plugin authors.

A plugin is a module in a ``twisted/plugins/`` directory holding module-level
instances that provide ``twisted.plugin.IPlugin`` and one of the factory interfaces
below. master.cf's command column names a service or delivery-agent factory; main.cf's
``type:name`` names a table type.
"""

from zope.interface import Attribute, Interface


class IServiceFactory(Interface):
    """A master.cf program such as ``smtpd``, ``pickup``, ``cleanup`` or ``qmgr``."""

    name = Attribute("str: the command-column name")
    description = Attribute("str: one line for listings")
    parameters = Attribute("tuple[pfx.plugin.Param | ParamTemplate, ...]: what it reads")
    start_order = Attribute(
        "int: lower starts first and stops last (cleanup and qmgr before smtpd)")

    def make_service(entry, context):
        """pfx.config.mastercf.MasterEntry and IServiceContext -> twisted IService.

        Raise pfx.errors.ConfigError for a bad setting; never fail later for one."""


class IDeliveryAgentFactory(Interface):
    """A delivery agent named by master.cf's command column, e.g. ``local`` or ``lmtp``."""

    name = Attribute("str: the command-column name")
    description = Attribute("str: one line for listings")
    parameters = Attribute("tuple[Param | ParamTemplate, ...]: what it reads")

    def make_agent(settings, runtime):
        """Settings of one master.cf row and a pfx.plugin.Runtime -> IDeliveryAgent.

        Raise ConfigError for a bad setting."""


class IDeliveryAgent(Interface):
    def deliver(request):
        """pfx.envelope.DeliveryRequest -> Deferred[DeliveryResult] with one
        RecipientStatus per request recipient, in order. A failed Deferred defers
        every recipient (Postfix: "only FINAL and DEFER"). A status may list the
        final deliveries an expansion made in its optional ``members``."""

    def stop():
        """Finish or abandon work in progress; the returned Deferred fires when idle."""


class ITableType(Interface):
    """A lookup table type: ``hash``, ``regexp``, ``cidr``, ..."""

    name = Attribute("str: the type word before the colon")
    description = Attribute("str: one line for listings")

    def open(name, flags):
        """``name`` is the text after ``type:``; ``flags`` a pfx.plugin.TableFlags.
        -> ILookupTable. Raise pfx.errors.TableConfigError for a bad table; the
        registry then installs a surrogate that fails soft."""


class ILookupTable(Interface):
    def lookup(key):
        """-> str or None (not found), or a Deferred of that for network tables.
        Raise pfx.errors.TableRetry for a soft failure."""


class IServiceContext(Interface):
    """What a service receives besides its master.cf row."""

    settings = Attribute("pfx.config.settings.Settings for this row (with -o overrides)")
    runtime = Attribute("pfx.plugin.Runtime")
    config_dir = Attribute("str: the configuration directory")
    tables = Attribute("the table registry: tables.open('hash:/etc/pfx/access') -> "
                       "ILookupTable; tables.open_list(text) for a comma-separated list")

    def provide(interface, provider):
        """Offer a shared component (cleanup offers IMailSubmitter, qmgr IQueueManager)."""

    def require(interface):
        """The provider offered for ``interface``; raises LookupError when none is."""

    def agent_for(transport):
        """The IDeliveryAgent serving master.cf service ``transport``, or None."""

    def logger(program):
        """A mail logger for ``program`` under this row's syslog_name: lines look like
        ``pfx/submission/smtpd[PID]: ...``."""


class IMailSubmitter(Interface):
    """cleanup's entry point, used by smtpd, pickup, bounce and local forwarding."""

    def open_message(envelope):
        """pfx.envelope.Envelope -> IMessageWriter. cleanup's also takes the keywords
        ``full_name`` (sendmail -F), ``content_filter`` (the submitter's
        $content_filter) and ``requeued`` (pickup, for postsuper -r); submitters pass
        them only when not empty."""


class IMessageWriter(Interface):
    queue_id = Attribute(
        "str: the queue ID of the file being written, known from open_message() on "
        "(smtpd puts it in the Received header and the client= log line before commit)")

    def write(data):
        """Append content bytes (headers and body, LF or CRLF line ends). May return a
        Deferred that fires when the data is taken; a caller streaming from the network
        waits for it before writing more (smtpd stops reading meanwhile)."""

    def commit(actions=()):
        """-> Deferred firing with the queue ID only after the file is on disk, or
        failing with a pfx.dsn.Reply-carrying error (4xx or 5xx) to pass on.
        ``actions``: late submitter actions, (name, value) pairs as in the Envelope's
        ``actions`` (smtpd's END-OF-MESSAGE access results); only smtpd passes them."""

    def abort():
        """Discard everything written so far."""


class INotifier(Interface):
    """The bounce program's entry point, used by qmgr (Postfix's bounce/defer/trace
    clients). Per-message logs live in the queue's bounce/, defer/ and trace/
    directories as records of ``name=value`` lines ended by an empty line, with
    Postfix's attribute names (recipient, orig_rcpt, dsn_orcpt, dsn_notify, offset,
    status, action, reason, relay, diag_type, diag_text, mta_type, mta_name, time)."""

    def append(kind, queue_id, status):
        """Durably add one pfx.envelope.RecipientStatus to the per-message log ``kind``
        ('bounce', 'defer' or 'trace') of ``queue_id`` -> Deferred firing when on disk."""

    def flush(kind, queue_id, request):
        """Send the notice for that message and clear its log -> Deferred[str | None],
        the notice's queue id (None when DSN NOTIFY or the null sender means no notice).

        ``kind``: 'bounce' (non-delivery of the bounce log's recipients), 'expire' (the
        message is too old: its defer log becomes a non-delivery notice), 'delay' (a
        delay warning; the defer log is kept), 'success' (DSN NOTIFY=SUCCESS and
        trace). ``request``: a pfx.envelope.DeliveryRequest for the whole message
        (sender, envid, ret, arrival, open_content) whose recipients are the ones the
        log concerns."""


class IQueueManager(Interface):
    """qmgr's entry point."""

    def kick(trigger):
        """Coalescing wake-up, like qmgr's one-byte triggers: I (incoming), D
        (deferred), A (ignore deferred timestamps), F (forget dead destinations), W."""
