"""EMULATION of ``google.colab.output``'s callback contract (DESIGN.md section 2), for tests only.

Colab's frontend proxies ``google.colab.kernel.invokeFunction(name, args, kwargs)`` from an output frame
into the kernel by running ``google.colab.output._invoke_function(name, json_args, json_kwargs)`` as
kernel code; that calls the registered callback with ``*args, **kwargs`` and the call's result (an
``IPython.display.JSON``) is the reply. An unknown name raises ``ValueError('Function not found: ...')``.
"""

import json

_functions = {}


def register_callback(function_name, callback):
    _functions[function_name] = callback


def _invoke_function(function_name, json_args, json_kwargs):
    args = json.loads(json_args)
    kwargs = json.loads(json_kwargs)
    callback = _functions.get(function_name)
    if not callback:
        raise ValueError(f"Function not found: {function_name}")
    return callback(*args, **kwargs)
