//! The Graph version window (docs/behaviour.md#graph-paths-and-versions): versions
//! from `cloud.oldest_version` to `cloud.latest_version` are served as asked; an
//! older one is served as the oldest with the auto-upgrade warning Meta sends
//! (docs/cloud.md#errors-headers-and-versions); a newer one is unknown.

use super::envelope::Ctx;
use crate::config::{CloudSettings, GraphVersion};

/// The versions served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `cloud.oldest_version`.
    pub oldest: GraphVersion,
    /// `cloud.latest_version`.
    pub latest: GraphVersion,
}

impl Window {
    /// The window of validated `[cloud]` settings.
    pub fn of(settings: &CloudSettings) -> Window {
        let parse = |v: &str| GraphVersion::parse(v).unwrap_or(GraphVersion { major: 0, minor: 0 });
        Window {
            oldest: parse(&settings.oldest_version),
            latest: parse(&settings.latest_version),
        }
    }

    /// The context a request for `asked` is served in; `Err` (in the context of
    /// the latest version) when `asked` is newer than the window.
    pub fn serve(&self, asked: GraphVersion) -> Result<Ctx, Ctx> {
        if asked > self.latest {
            return Err(Ctx::new(self.latest));
        }
        if asked < self.oldest {
            let mut ctx = Ctx::new(self.oldest);
            ctx.warning = Some(format!(
                "The call has been auto-upgraded to {} as {asked} will be deprecated.",
                self.oldest
            ));
            return Ok(ctx);
        }
        Ok(Ctx::new(asked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GraphVersion {
        GraphVersion::parse(s).unwrap()
    }

    #[test]
    fn the_window_serves_upgrades_and_refuses() {
        let w = Window::of(&CloudSettings::default());
        let served = w.serve(v("v22.0")).unwrap();
        assert_eq!((served.version, served.warning), (v("v22.0"), None));
        let upgraded = w.serve(v("v19.0")).unwrap();
        assert_eq!(upgraded.version, v("v21.0"));
        assert_eq!(
            upgraded.warning.as_deref(),
            Some("The call has been auto-upgraded to v21.0 as v19.0 will be deprecated.")
        );
        assert_eq!(w.serve(v("v26.1")).unwrap_err().version, v("v26.0"));
        assert!(w.serve(v("v26.0")).is_ok());
        assert!(v("v9.0") < v("v10.0"), "versions compare as numbers");
        let absurd = |s| GraphVersion::parse_asked(s).expect("a version");
        for newer in ["v9999999.0", "v26.1000000", "v99999999999999999999.0"] {
            assert_eq!(
                w.serve(absurd(newer)).unwrap_err().version,
                v("v26.0"),
                "{newer}"
            );
        }
        assert_eq!(
            GraphVersion::parse("v9999999.0"),
            None,
            "a setting keeps six digits"
        );
    }
}
