//! The resource both signals describe: the configured service, its environment and resource
//! attributes, and the SDK that produced the data.

use crate::config::TelemetryConfig;

/// The resource attributes, in export order: the configured ones (minus those the settings
/// below replace), then `service.name`, `service.version`, `deployment.environment.name` and
/// the `telemetry.sdk.*` attributes.
pub(super) fn resource_attributes(config: &TelemetryConfig) -> Vec<(String, String)> {
    let mut attrs: Vec<(String, String)> = config
        .resource_attributes
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "service.name" | "service.version" | "deployment.environment.name"
            )
        })
        .cloned()
        .collect();
    attrs.push(("service.name".into(), config.service_name.clone()));
    if let Some(v) = &config.service_version {
        attrs.push(("service.version".into(), v.clone()));
    }
    attrs.push((
        "deployment.environment.name".into(),
        config.deployment_environment.clone(),
    ));
    attrs.push(("telemetry.sdk.name".into(), "unitel".into()));
    attrs.push(("telemetry.sdk.language".into(), "rust".into()));
    attrs.push((
        "telemetry.sdk.version".into(),
        env!("CARGO_PKG_VERSION").into(),
    ));
    attrs
}

/// The same attributes as the SDK's resource, for the tracer provider.
pub(crate) fn sdk_resource(config: &TelemetryConfig) -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_attributes(
            resource_attributes(config)
                .into_iter()
                .map(|(k, v)| opentelemetry::KeyValue::new(k, v)),
        )
        .build()
}
