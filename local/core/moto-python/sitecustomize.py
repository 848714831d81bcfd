"""Python loads this module at start-up (it is on the PYTHONPATH of the moto server the local
cloud starts, local/core/moto.ts): it makes moto serve one request at a time.

AWS applies each API call atomically. moto's server is threaded and most of its backends take no
lock, so concurrent calls race: a conditional write and a concurrent one can both pass, and
iterating a backend's dicts while another request adds to them fails with "dictionary changed
size during iteration" (an HTML 500). Measured under load: 500s from Auto Scaling, EC2 and
CloudWatch Logs calls. One lock around each request removes the races; moto holds the GIL for
almost all of a request anyway, so it costs little throughput.

SQS ReceiveMessage is let through: with WaitTimeSeconds it holds its request open for up to 20
seconds, and every other call would wait behind it (SQS calls do not race in moto's SQS backend,
which has its own locks)."""

import io
import threading

try:
    from moto.moto_server import werkzeug_app
except Exception:  # not the moto server (or a moto without it): change nothing
    werkzeug_app = None

if werkzeug_app is not None:
    _lock = threading.Lock()
    _dispatch = werkzeug_app.DomainDispatcherApplication.__call__

    def _is_receive_message(environ):
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".ReceiveMessage"):
            return True
        if "Action=ReceiveMessage" in environ.get("QUERY_STRING", ""):
            return True
        if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            return b"Action=ReceiveMessage" in body
        return False

    def _serialised(self, environ, start_response):
        if _is_receive_message(environ):
            return _dispatch(self, environ, start_response)
        with _lock:
            # Flask runs the view inside this call and returns the body already built.
            return list(_dispatch(self, environ, start_response))

    werkzeug_app.DomainDispatcherApplication.__call__ = _serialised

# Termination protection binds the EC2 API, not Auto Scaling: AWS documents that
# DisableApiTermination "does not prevent Amazon EC2 Auto Scaling from terminating an instance".
# moto checks it on every termination, so an instance refresh or a scale-in that reaches a
# protected instance fails where AWS would go on. Terminations moto makes while serving an Auto
# Scaling call, and the EC2 calls the local Auto Scaling engine makes for a group (it marks them
# with the header below, which the gateway never forwards from a caller), skip the check.
_AUTOSCALING_HEADER = "HTTP_X_PHOENIX_LOCAL_SERVICE"
_as_autoscaling = threading.local()

try:
    from moto.ec2.models.instances import InstanceBackend
except Exception:
    InstanceBackend = None

if werkzeug_app is not None and InstanceBackend is not None:
    _terminate = InstanceBackend.terminate_instances

    def _terminate_instances(self, instance_ids):
        if not getattr(_as_autoscaling, "active", False):
            return _terminate(self, instance_ids)
        protected = [i for i in self.get_multi_instances_by_id(instance_ids) if i.disable_api_termination is True]
        for instance in protected:
            instance.disable_api_termination = False
        try:
            return _terminate(self, instance_ids)
        finally:
            # The attribute stays as it was on the (now terminated) instance, as in EC2.
            for instance in protected:
                instance.disable_api_termination = True

    InstanceBackend.terminate_instances = _terminate_instances

    def _is_autoscaling(environ):
        if environ.get(_AUTOSCALING_HEADER) == "autoscaling":
            return True
        return "/autoscaling/aws4_request" in environ.get("HTTP_AUTHORIZATION", "")

    _serve = werkzeug_app.DomainDispatcherApplication.__call__

    def _served_as(self, environ, start_response):
        _as_autoscaling.active = _is_autoscaling(environ)
        try:
            return _serve(self, environ, start_response)
        finally:
            _as_autoscaling.active = False

    werkzeug_app.DomainDispatcherApplication.__call__ = _served_as

# Which moto answers: the local cloud picks a free port, then starts moto on it, and another
# process may take the same port in between. The server signs every answer with the token its
# starter gave it, so the starter never mistakes someone else's moto for its own.
import os as _os

_token = _os.environ.get("PHOENIX_MOTO_TOKEN")
if werkzeug_app is not None and _token:
    _answer = werkzeug_app.DomainDispatcherApplication.__call__

    def _signed(self, environ, start_response):
        def _start(status, headers, exc_info=None):
            return start_response(status, list(headers) + [("X-Phoenix-Moto-Token", _token)], exc_info)

        return _answer(self, environ, _start)

    werkzeug_app.DomainDispatcherApplication.__call__ = _signed
