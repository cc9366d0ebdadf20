"""Serves requests through a model's inference handlers as the SageMaker serving toolkit does.

Run by tests/test_image_runs.py with an image venv's Python, so on the image's Python 3.9 or
3.10 and packages. The scikit-learn 1.2-1 and XGBoost 3.0-5 images serve script-mode models through
sagemaker-containers 2.8.6 (sagemaker_containers/_transformer.py): it imports SAGEMAKER_PROGRAM
from SAGEMAKER_SUBMIT_DIRECTORY, calls model_fn(model_dir) once, then for each request
input_fn(body, content type), predict_fn(data, model) and output_fn(prediction, accept);
a tuple from output_fn is sent as (body, content type) with status 200, a response object as is.
The body reaches input_fn as text (UTF-8) when the content type is exactly application/json or
text/csv, else as bytes; an Accept that is missing or */* becomes SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT
(default application/json) (sagemaker_containers/_worker.py `Request.content` and `Request.accept`,
_content_types.py `UTF8_TYPES`).

    python tests/toolkit_serving.py MODEL_DIR REQUESTS_JSON   (each request: body, content_type, accept or null)
"""

import importlib
import json
import os
import sys
from pathlib import Path

# sagemaker_containers/_content_types.py: the content types whose body the worker decodes to text.
UTF8_TYPES = ("application/json", "text/csv")


def main() -> None:
    model_dir, requests = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    sys.path.insert(0, os.environ["SAGEMAKER_SUBMIT_DIRECTORY"])
    handlers = importlib.import_module(Path(os.environ["SAGEMAKER_PROGRAM"]).stem)
    model = handlers.model_fn(model_dir)
    responses = []
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    for request in requests:
        content_type = request["content_type"]
        body = request["body"] if content_type in UTF8_TYPES else request["body"].encode("utf-8")
        accept = request["accept"] if request["accept"] not in (None, "", "*/*") else default_accept
        data = handlers.input_fn(body, content_type)
        result = handlers.output_fn(handlers.predict_fn(data, model), accept)
        if isinstance(result, tuple):
            responses.append({"status": 200, "body": result[0], "content_type": result[1]})
        else:
            body = result.get_data(as_text=True)
            responses.append({"status": result.status_code, "body": body, "content_type": result.mimetype})
    print(json.dumps(responses))


if __name__ == "__main__":
    main()
