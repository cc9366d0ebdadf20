"""SDK builder of the drift-check pipeline (count the window, then merge and decide) and its checked-in JSON.

`cdk synth` must not import the SageMaker SDK (slow), so `make pipeline-definitions`
runs this module once and writes `pipeline_steps/definitions/drift_check.json`; the
drift-monitor construct reads that file and fills the `${...}` placeholders below with
Fn::Sub (role, key, image, bucket names, endpoint). A test regenerates the file and fails
when the checked-in copy is stale.

Usage: python -m pipeline_steps.drift_check_pipeline [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import contracts
from pipeline_steps import checked_in, images
from pipeline_steps.checked_in import canonical_json
from pipeline_steps.sdk_session import (
    image_uris_by_region,
    offline_pipeline_session,
    report_for_people,
    role_arn_placeholder,
    stale_files,
    write_files,
)
from pipeline_steps.sdk_session import placeholder as _ref

DEFINITION_FILE = checked_in.DRIFT_CHECK_DEFINITION
IMAGES_FILE = checked_in.DRIFT_CHECK_IMAGES

# Placeholders the construct substitutes (Fn::Sub variable names).
PLACEHOLDERS = (
    "RoleName",
    "KmsKeyArn",
    "ImageUri",
    "InstanceType",
    "CodeBucket",
    "CodeKey",
    "ReportsUri",
    "CaptureUri",
    "EndpointName",
    "MetricNamespace",
    "DriftThreshold",
    "FalseAlarmRate",
    "DetectionPower",
    "DetectableShift",
    "MaxRejectedFraction",
    contracts.DRIFT_WINDOW_PARAMETER,
)
# Pipeline parameters the schedule passes on each start (StartPipelineExecution).
PARAMETERS = (
    contracts.DRIFT_MODEL_PACKAGE_PARAMETER,
    contracts.DRIFT_BASELINE_PARAMETER,
    contracts.DRIFT_WINDOW_PARAMETER,
    contracts.DRIFT_END_TIME_PARAMETER,
    contracts.DRIFT_INSTANCE_COUNT_PARAMETER,
)
# The scikit-learn processing image: Python 3.9, numpy, pyarrow and scipy (images.py).
SKLEARN_VERSION = images.SKLEARN.version
# Any region: the definition holds no region-specific value (the image is a placeholder).
_GENERATION_REGION = "eu-west-1"
_GENERATION_BUCKET = "drift-check-definition"
COUNT_STEP = "CountCapture"
CHECK_STEP = "CheckDrift"
COUNTS_INPUT = "/opt/ml/processing/input/counts"
REPORT_OUTPUT = "/opt/ml/processing/output/report"


def build_pipeline(session: Any) -> Any:
    """The drift-check pipeline: CountCapture on `InstanceCount` instances, each counting its share of the
    window's capture objects (drift_check.py --counts-only), then CheckDrift adding the counts up and deciding."""
    from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.core.shapes.shapes import ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    package = ParameterString(name=contracts.DRIFT_MODEL_PACKAGE_PARAMETER, default_value="")
    baseline = ParameterString(name=contracts.DRIFT_BASELINE_PARAMETER, default_value="")
    window = ParameterString(
        name=contracts.DRIFT_WINDOW_PARAMETER, default_value=_ref(contracts.DRIFT_WINDOW_PARAMETER)
    )
    end_time = ParameterString(name=contracts.DRIFT_END_TIME_PARAMETER, default_value="")
    # The schedule passes the configured count (config DriftConfig.instances); a start without it uses one.
    instances = ParameterInteger(name=contracts.DRIFT_INSTANCE_COUNT_PARAMETER, default_value=1)

    def processor(name: str, count: Any) -> Any:
        return ScriptProcessor(
            role=role_arn_placeholder("RoleName"),
            image_uri=_ref("ImageUri"),
            command=["python3"],
            instance_count=count,
            instance_type=_ref("InstanceType"),
            volume_kms_key=_ref("KmsKeyArn"),
            output_kms_key=_ref("KmsKeyArn"),
            max_runtime_in_seconds=3600,
            base_job_name=name,
            sagemaker_session=session,
        )

    def reports(name: str) -> Any:
        return Join(on="/", values=[_ref("ReportsUri"), ExecutionVariables.PIPELINE_EXECUTION_ID, name])

    # "--flag=value" in one argument: a parameter may be empty, an argument may not. Both steps get
    # the same window: the end time given, else the execution's start (never each job's own clock).
    arguments = [
        "--endpoint-name",
        _ref("EndpointName"),
        "--capture",
        _ref("CaptureUri"),
        Join(on="", values=["--model-package-arn=", package]),
        Join(on="", values=["--baseline-statistics=", baseline]),
        Join(on="", values=["--window-hours=", window]),
        Join(on="", values=["--end-time=", end_time]),
        Join(on="", values=["--started-at=", ExecutionVariables.START_DATETIME]),
        "--threshold",
        _ref("DriftThreshold"),
        "--false-alarm-rate",
        _ref("FalseAlarmRate"),
        "--detection-power",
        _ref("DetectionPower"),
        "--detectable-shift",
        _ref("DetectableShift"),
        "--max-rejected-fraction",
        _ref("MaxRejectedFraction"),
        "--metric-namespace",
        _ref("MetricNamespace"),
        # boto3 reads only AWS_DEFAULT_REGION, which a processing job need not have.
        "--region=${AWS::Region}",
    ]
    code = f"s3://{_ref('CodeBucket')}/{_ref('CodeKey')}"  # an S3 URI: the SDK uploads nothing
    counts_output = ProcessingOutput(
        output_name="counts",
        s3_output=ProcessingS3Output(s3_uri=reports("counts"), local_path=REPORT_OUTPUT, s3_upload_mode="EndOfJob"),
    )
    count = ProcessingStep(
        name=COUNT_STEP,
        step_args=processor("drift-count", instances).run(
            code=code, outputs=[counts_output], arguments=[*arguments, "--counts-only", "--output-dir", REPORT_OUTPUT]
        ),
    )
    counts_uri = count.properties.ProcessingOutputConfig.Outputs["counts"].S3Output.S3Uri
    check = ProcessingStep(
        name=CHECK_STEP,
        step_args=processor("drift-check", 1).run(
            code=code,
            inputs=[
                ProcessingInput(
                    input_name="counts",
                    s3_input=ProcessingS3Input(
                        s3_uri=counts_uri, local_path=COUNTS_INPUT, s3_data_type="S3Prefix", s3_input_mode="File"
                    ),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="report",
                    s3_output=ProcessingS3Output(
                        s3_uri=reports("report"), local_path=REPORT_OUTPUT, s3_upload_mode="EndOfJob"
                    ),
                )
            ],
            arguments=[*arguments, f"--merge-counts={COUNTS_INPUT}", "--output-dir", REPORT_OUTPUT],
        ),
    )
    return Pipeline(
        name="drift-check",
        parameters=[package, baseline, window, end_time, instances],
        steps=[count, check],
        sagemaker_session=session,
    )


def image_uris() -> dict[str, dict[str, str]]:
    """Per-region URIs of the scikit-learn processing image and Model Monitor's analyzer."""
    sklearn = image_uris_by_region("sklearn", SKLEARN_VERSION, image_scope="training")
    monitor = image_uris_by_region("model-monitor", "", image_scope="monitoring")
    return {"sklearn": sklearn, "model-monitor": monitor}


def render() -> dict[Path, str]:
    """The files `make pipeline-definitions` writes, by path."""
    session = offline_pipeline_session(region=_GENERATION_REGION, bucket=_GENERATION_BUCKET)
    return {
        DEFINITION_FILE: canonical_json(build_pipeline(session).definition()),
        IMAGES_FILE: canonical_json(image_uris()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in files are stale")
    args = parser.parse_args(argv)
    progress = report_for_people()
    progress("drift check: building its pipeline definition and image URIs with the SageMaker SDK")
    files = render()
    if not args.check:
        write_files(files)
        return 0
    stale = stale_files(files)
    for path in stale:
        print(f"stale: {path} (run `make pipeline-definitions`)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
