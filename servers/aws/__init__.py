"""AWS module (prefix `aws_`): every AWS API through one validated tool, plus curated daily-work tools."""

from servers._common.module import ModuleInfo
from servers.aws.settings import AwsSettings, configured

MODULE = ModuleInfo.of(
    __name__,
    AwsSettings,
    configured,
    prefix="aws_",
    title="AWS",
    summary=(
        "call any AWS API with parameters validated against botocore's models (read-only unless writes are "
        "allowed), discover services and operations, switch profile/region/role per call; curated tools for "
        "caller identity, S3, CloudWatch Logs and Logs Insights, EC2/Lambda/ECS/EKS/RDS/DynamoDB/SQS "
        "summaries and cost by service"
    ),
    client_env=(
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ),
)
build_server = MODULE.build_server

__all__ = ["MODULE", "AwsSettings", "build_server"]
