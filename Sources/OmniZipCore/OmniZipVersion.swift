/// The one version string: the CLI's `--version`, `/v1/info` and the startup line.
/// (The Python packages, openapi.yaml and the image tags carry it too; check-deploy compares.)
public enum OmniZipVersion {
    public static let string = "0.1.0"
}
